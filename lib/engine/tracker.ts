/**
 * Keeps the container registry in step with the engine: first sync, the event stream, periodic
 * refresh, the stale sweeper, and reconnecting with backoff when the engine goes away.
 * All I/O goes through the injected `DockerApi` and `openEvents`; time through `now`.
 */
import { backoffDelay, type BackoffPolicy, DEFAULT_BACKOFF } from "./backoff.ts";
import { CoalescingQueue } from "./coalescing_queue.ts";
import { type ContainerRegistry, parseDockerTime, recordFromInspect, StringPool, summaryDiffers } from "./registry.ts";
import {
  type ContainerEvent,
  type DockerApi,
  DockerApiError,
  type EventStream,
  type EventStreamItem,
  FOLLOWED_ACTIONS,
  negotiateApiVersion,
} from "../docker/mod.ts";
import { countEvent } from "./event_counts.ts";
import { eventEffect } from "./event_effects.ts";
import { ExporterStats } from "./stats.ts";
import { type ContainerFilter, type Logger, RateLimitedLog } from "../shared/mod.ts";

/** How long a stream must have been followed before its opening counts as read: the engine replays at once. */
const REPLAY_GRACE_MS = 1000;

/**
 * Statuses a proxy in front of the engine answers for it when the engine is gone (dockerd sends none of them for
 * these calls): no answer from the engine, so it is down.
 */
const GATEWAY_STATUSES = new Set([502, 503, 504]);

/**
 * The actions counted under their own name in `eventsByAction`; any other action an engine sends is counted as
 * `other`. Each name is a series for the life of the process, and an engine or proxy can send any number of them.
 */
const COUNTED_ACTIONS: ReadonlySet<string> = new Set(FOLLOWED_ACTIONS);

/**
 * The least time between two warnings about unusable data in the event stream. A broken engine or proxy can send
 * millions of unusable pieces: a line for each would flood the log and hold up the event loop, and every piece is
 * counted in `eventDecodeErrors` all the same.
 */
const GARBAGE_LOG_INTERVAL_MS = 60_000;

/**
 * How far back, from the last event read, a reopened stream replays: it asks for events `since` a whole second at
 * least a second before that event (`#sinceSeconds`), so up to two seconds before it.
 */
const REPLAY_MS = 3000;

/** Thrown inside `run` for a failure that `refresh` has already counted and logged. */
const ALREADY_COUNTED = new Error("already counted");

/** Everything the tracker needs, passed in so tests can supply their own. */
export interface TrackerOptions {
  api: DockerApi;
  /** Opens `/events`; resolves once the engine has answered. */
  openEvents: (options: { apiVersion: string; sinceSeconds?: number; signal: AbortSignal }) => Promise<EventStream>;
  registry: ContainerRegistry;
  stats: ExporterStats;
  logger: Logger;
  now: () => number;
  refreshIntervalMs: number;
  staleAfterMs: number;
  /**
   * Which container labels a record keeps (default: all). Only those some family exports are worth keeping: a
   * record is held for as long as its container lives, and a label can be megabytes.
   */
  keepLabel?: (key: string) => boolean;
  /**
   * Which containers to follow (default: all). A container it leaves out is decided on from its list entry and its
   * events, before any inspect, and has no record.
   */
  filter?: Pick<ContainerFilter, "follows">;
  /** Inspects in flight at once, toward the engine. */
  inspectConcurrency?: number;
  backoff?: BackoffPolicy;
  random?: () => number;
}

/** Follows one engine. Create it, call `run(signal)`, and read the registry and stats it keeps. */
export class ContainerTracker {
  readonly #options: TrackerOptions;
  readonly #queue: CoalescingQueue;
  /** Shares the strings that records repeat (image names, label values). */
  readonly #strings = new StringPool();
  /** Warns about unusable pieces of the event stream: the first at once, then a line a minute with a count. */
  readonly #garbageLog: RateLimitedLog;
  #refreshing: Promise<boolean> | undefined;
  /**
   * Ids whose last inspect failed. An event may have patched their record from its own (approximate) data, and
   * the list can look unchanged, so the next refresh inspects them again.
   */
  readonly #unconfirmed = new Set<string>();
  /**
   * Ids an event patched while their inspect was under way. That inspect's answer may predate the event, so it is
   * dropped: the inspect the event queued behind it has the last word.
   */
  readonly #patchedMeanwhile = new Set<string>();
  /**
   * The events counted in the last `REPLAY_MS` by the engine's clock, oldest first, by their `timeNano`, id, action
   * and detail: a reopened stream replays them, and each must count once.
   */
  readonly #counted = new Map<string, number>();
  #apiVersion: string | undefined;
  /** The engine's clock when the current event stream was opened; `since` for the next one if no event came. */
  #streamOpenedMs: number | undefined;
  /**
   * How far the engine's clock is ahead of ours (from `/info`'s SystemTime; 0 without it). `since` is read by the
   * engine's clock, and an engine on another host may be seconds off.
   */
  #engineClockAheadMs = 0;

  constructor(options: TrackerOptions) {
    this.#options = options;
    this.#garbageLog = new RateLimitedLog(
      (msg, fields) => options.logger.warn(msg, fields),
      "skipped unusable data in the event stream",
      GARBAGE_LOG_INTERVAL_MS,
      options.now,
    );
    this.#queue = new CoalescingQueue(options.inspectConcurrency ?? 8, (id) => this.#inspect(id));
  }

  /**
   * Follows the engine until `signal` aborts: connects, syncs, applies events, and on any failure
   * waits with capped exponential backoff and starts again. Never throws.
   */
  async run(signal: AbortSignal): Promise<void> {
    const { refreshIntervalMs, staleAfterMs } = this.#options;
    const refreshTimer = setInterval(() => void this.refresh(), refreshIntervalMs);
    const sweepTimer = setInterval(() => this.sweep(), Math.max(100, Math.min(5000, staleAfterMs / 6)));
    const backoff = this.#options.backoff ?? DEFAULT_BACKOFF;
    let attempt = 0;
    try {
      while (!signal.aborted) {
        let stream: EventStream | undefined;
        /** Set once this attempt's stream is open and its list applied: events are followed from then on. */
        let followedFromMs: number | undefined;
        /** This attempt's opening, by the engine's clock. */
        let openedMs: number | undefined;
        let ended = false;
        try {
          await this.#connect();
          const since = this.#sinceSeconds();
          openedMs = this.#options.now() + this.#engineClockAheadMs;
          stream = await this.#options.openEvents({ apiVersion: this.#apiVersion!, sinceSeconds: since, signal });
          // The stream is open before the list is taken, so nothing that happens in between is missed.
          if (!(await this.refresh())) throw ALREADY_COUNTED;
          followedFromMs = this.#options.now();
          for await (const item of stream.items) this.#handle(item);
          ended = !signal.aborted;
          if (ended) throw new DockerApiError("Docker closed the event stream", "events");
        } catch (error) {
          stream?.close();
          // The stream is over: the unusable pieces not logged yet are logged now, with their count.
          this.#garbageLog.flush();
          if (signal.aborted) break;
          if (ended) {
            // The engine did answer, and a proxy's idle timeout ends the stream this way too: whether the engine is
            // still there, the reconnect finds out.
            this.#count(error);
            this.#options.logger.info("Docker closed the event stream; reopening it");
          } else if (error !== ALREADY_COUNTED) this.#failed(error);
          this.#options.stats.eventStreamReconnects++;
          // A stream followed for a while was a working connection: back off from the start again. One that ends
          // at once (an engine or proxy closing /events) backs off further each time, rather than listing every
          // container every 250 ms.
          const followedMs = followedFromMs === undefined ? -1 : this.#options.now() - followedFromMs;
          // Only a stream followed long enough to have handed over what it replays moves `since` to its opening: one
          // whose list failed, or that broke at once, must not move it past events the exporter never read.
          if (followedMs >= REPLAY_GRACE_MS) this.#streamOpenedMs = openedMs;
          if (followedMs >= backoff.maxMs) attempt = 0;
          const delay = backoffDelay(attempt++, backoff, (this.#options.random ?? Math.random)());
          this.#options.logger.debug("reconnecting to Docker", { delay_ms: delay, attempt });
          await new Promise<void>((resolve) => {
            this.#wake = resolve;
            sleep(delay, signal).then(resolve);
          });
          this.#wake = undefined;
        }
      }
    } finally {
      clearInterval(refreshTimer);
      clearInterval(sweepTimer);
      await this.#refreshing;
    }
  }

  /**
   * Reconciles the registry with a full container list: inspects new and changed containers,
   * drops vanished ones, and marks the rest seen. Concurrent calls share one refresh.
   * Resolves to whether it succeeded; a failure is already counted and logged.
   */
  refresh(): Promise<boolean> {
    this.#refreshing ??= this.#refresh().finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  /** Drops containers not seen within the stale period. */
  sweep(): void {
    const dropped = this.#options.registry.sweep(this.#options.now(), this.#options.staleAfterMs);
    if (dropped.length > 0) this.#options.logger.info("dropped stale containers", { count: dropped.length });
  }

  async #connect(): Promise<void> {
    const { api, stats } = this.#options;
    const version = await api.version();
    this.#apiVersion = negotiateApiVersion(version);
    api.useApiVersion(this.#apiVersion);
    const askedMs = this.#options.now();
    const info = await api.info();
    const engineSeconds = parseDockerTime(info.SystemTime);
    this.#engineClockAheadMs = engineSeconds === undefined
      ? 0
      : engineSeconds * 1000 - (askedMs + this.#options.now()) / 2;
    const engine = {
      version: String(version.Version ?? ""),
      apiVersion: this.#apiVersion,
      os: String(version.Os ?? ""),
      kernelVersion: String(version.KernelVersion ?? ""),
      hostname: String(info.Name ?? ""),
      ...(typeof info.DockerRootDir === "string" && info.DockerRootDir !== "" ? { dataRoot: info.DockerRootDir } : {}),
      ...(isCount(info.NCPU) ? { cpus: info.NCPU } : {}),
      ...(isCount(info.MemTotal) ? { memoryBytes: info.MemTotal } : {}),
    };
    if (JSON.stringify(engine) !== JSON.stringify(stats.engine)) {
      stats.engine = engine;
      stats.engineRevision++;
    }
    this.#up();
  }

  #sinceSeconds(): number | undefined {
    const { lastEventMs } = this.#options.stats;
    const from = lastEventMs ?? this.#streamOpenedMs;
    // One second of overlap: replayed events only cause a redundant inspect, a missed one a wrong series.
    return from === undefined ? undefined : Math.floor(from / 1000) - 1;
  }

  async #refresh(): Promise<boolean> {
    const { api, registry, stats, now, logger } = this.#options;
    if (this.#apiVersion === undefined) return false;
    const startedMs = now();
    try {
      const list = await api.listContainers();
      const listed = new Set<string>();
      const changed: Promise<void>[] = [];
      const seenMs = now();
      for (const summary of list) {
        const name = summary.Names?.[0];
        // Without a name to decide on, the inspect decides.
        if (name !== undefined && !this.#follows(name, summary.Labels ?? {})) {
          this.#leaveOut(summary.Id);
          continue;
        }
        listed.add(summary.Id);
        registry.markSeen(summary.Id, seenMs);
        const record = registry.get(summary.Id);
        if (!record || summaryDiffers(record, summary) || this.#unconfirmed.has(summary.Id)) {
          changed.push(this.#queue.schedule(summary.Id));
        }
      }
      const dropped = registry.dropMissing(listed, startedMs, seenMs);
      // Not by the list alone: a container created after the engine took it is missing from it, yet tracked.
      for (const id of this.#unconfirmed) if (!registry.has(id)) this.#unconfirmed.delete(id);
      if (dropped.length > 0) logger.debug("containers vanished", { ids: dropped });
      await Promise.all(changed);
      stats.lastRefreshDurationMs = now() - startedMs;
      stats.synced = true;
      this.#up();
      return true;
    } catch (error) {
      this.#failed(error);
      return false;
    }
  }

  async #inspect(id: string): Promise<void> {
    const { api, registry, now, logger } = this.#options;
    this.#patchedMeanwhile.delete(id);
    try {
      const inspect = await api.inspectContainer(id);
      if (this.#patchedMeanwhile.has(id)) return;
      this.#unconfirmed.delete(id);
      if (inspect === undefined) registry.remove(id, now());
      // Only when neither the list nor an event had the name to decide on: those leave a container out before this.
      else if (!this.#follows(inspect.Name ?? "", inspect.Config?.Labels ?? {})) registry.forget(id);
      else registry.upsert(recordFromInspect(inspect, this.#strings, this.#options.keepLabel), now());
    } catch (error) {
      // Not fatal: the next refresh inspects it again.
      this.#unconfirmed.add(id);
      this.#count(error);
      logger.debug("inspect failed", { id, error });
    }
  }

  #handle(item: EventStreamItem): void {
    const { registry, stats, logger, now } = this.#options;
    if (item.kind === "garbage") {
      stats.eventDecodeErrors++;
      this.#garbageLog.report({ error: item.error, text: item.text });
      return;
    }
    const { event } = item;
    ExporterStats.increment(stats.eventsByAction, COUNTED_ACTIONS.has(event.action) ? event.action : "other");
    stats.lastEventMs = Math.max(stats.lastEventMs ?? 0, event.timeMs || now());
    const nowMs = now();
    // Docker and Podman put the container's name and labels in every event's attributes.
    const name = event.attributes.name;
    if (name !== undefined && !this.#follows(name, event.attributes)) {
      // Left out from the start, or renamed out of the filters: no record, no counts, no inspect.
      this.#leaveOut(event.id);
      return;
    }
    const effect = eventEffect(event, registry.has(event.id));
    logger.debug("event", { action: event.action, detail: event.detail, id: event.id });
    if (!effect.remove) this.#countEvent(event, nowMs);
    if (effect.remove) {
      registry.remove(event.id, nowMs);
      this.#queue.cancel(event.id);
      this.#patchedMeanwhile.delete(event.id);
      return;
    }
    if (effect.patch) registry.patch(event.id, effect.patch, nowMs);
    else registry.markSeen(event.id, nowMs);
    // An inspect already under way may have been answered before this event: its answer is dropped, and one more,
    // begun after the event, has the last word.
    const inspecting = effect.patch !== undefined && this.#queue.isRunning(event.id);
    if (inspecting) this.#patchedMeanwhile.add(event.id);
    if (effect.inspect || inspecting) void this.#queue.schedule(event.id);
  }

  #follows(name: string, labels: Readonly<Record<string, string>>): boolean {
    return this.#options.filter?.follows(name, labels) ?? true;
  }

  /** Forgets a container the filters leave out, and any inspect of it: none is asked, and none answered is kept. */
  #leaveOut(id: string): void {
    if (this.#options.registry.forget(id)) this.#options.logger.debug("left out by the container filters", { id });
    this.#queue.cancel(id);
    if (this.#queue.isRunning(id)) this.#patchedMeanwhile.add(id);
    this.#unconfirmed.delete(id);
  }

  /** Counts `event` for its container, unless it was counted before: replayed by a stream reopened with `since`. */
  #countEvent(event: ContainerEvent, nowMs: number): void {
    // Without the engine's nanoseconds, two events of a crash loop within a millisecond could look alike: each counts.
    if (event.timeNano !== undefined) {
      const key = `${event.timeNano}/${event.id}/${event.action}/${event.detail}`;
      if (this.#counted.has(key)) return;
      this.#counted.set(key, event.timeMs);
      for (const [old, timeMs] of this.#counted) {
        if (timeMs >= event.timeMs - REPLAY_MS) break;
        this.#counted.delete(old);
      }
    }
    this.#options.registry.count(event.id, (counts, health) => countEvent(counts, event, health), nowMs);
  }

  #count(error: unknown): void {
    const operation = error instanceof DockerApiError ? error.operation : "unknown";
    ExporterStats.increment(this.#options.stats.apiErrorsByOperation, operation);
  }

  #failed(error: unknown): void {
    this.#count(error);
    const { stats, logger } = this.#options;
    // An HTTP error means the engine answered; only a missing answer means it is down.
    const answered = error instanceof DockerApiError && error.status !== undefined &&
      !GATEWAY_STATUSES.has(error.status);
    if (answered) {
      logger.warn("Docker returned an error", { error });
      return;
    }
    if (stats.engineUp || !this.#loggedDown) logger.error("Docker is unreachable; retrying", { error });
    this.#loggedDown = true;
    stats.engineUp = false;
  }

  #loggedDown = false;
  /** Ends the reconnect backoff early; set while `run` waits. */
  #wake: (() => void) | undefined;

  #up(): void {
    const { stats, logger } = this.#options;
    if (!stats.engineUp) {
      logger.info("connected to Docker", { ...stats.engine });
      this.#loggedDown = false;
      // A refresh reached the engine while the event stream waits to reconnect: reconnect now.
      this.#wake?.();
    }
    stats.engineUp = true;
  }
}

/** A positive whole number: what `/info` gives for CPUs and memory when it knows them. */
function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
