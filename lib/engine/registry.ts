/**
 * The in-memory registry of containers: what the engine last told us about each one and when we last saw it.
 * Pure: time comes in as arguments, and nothing here talks to Docker or HTTP.
 */
import type { ContainerInspect, ContainerSummary } from "../docker/mod.ts";
import { type EventCounts, NO_EVENTS } from "./event_counts.ts";

/** Container states as the engine names them; `docker_container_state` has one series for each. */
export const CONTAINER_STATES = ["created", "running", "paused", "restarting", "removing", "exited", "dead"] as const;
export type ContainerState = typeof CONTAINER_STATES[number];

/** Health states; `none` for a container without a HEALTHCHECK. */
export const HEALTH_STATES = ["healthy", "unhealthy", "starting", "none"] as const;
export type HealthState = typeof HEALTH_STATES[number];

/** What the exporter knows about one container. Times are Unix seconds; `undefined` when never happened. */
export interface ContainerRecord {
  id: string;
  /** Without the leading `/`. */
  name: string;
  /** `Config.Image`, as the container was created from (`nginx:1.27`). */
  image: string;
  imageId: string;
  labels: Readonly<Record<string, string>>;
  state: ContainerState;
  createdSeconds: number | undefined;
  startedSeconds: number | undefined;
  finishedSeconds: number | undefined;
  restartCount: number;
  exitCode: number;
  oomKilled: boolean;
  health: HealthState;
  failingStreak: number;
  /** The init process on the host, 0 while not running: resource metrics read its network counters. */
  pid?: number;
  /** `HostConfig.Memory`: the memory limit in bytes, 0 when unlimited. */
  memoryLimitBytes?: number;
  /** The CFS quota in microseconds per period (`--cpu-quota`, or `--cpus` times the period), 0 when unlimited. */
  cpuQuotaMicros?: number;
  /** The CFS period in microseconds. */
  cpuPeriodMicros?: number;
  /** `HostConfig.CpuShares`, the kernel's default 1024 when not set. */
  cpuShares?: number;
  /** `HostConfig.MemoryReservation` (`--memory-reservation`), bytes; 0 when not set. */
  memoryReservationBytes?: number;
  /**
   * `HostConfig.MemorySwap` (`--memory-swap`): memory plus swap, bytes, as cgroup v1's `memory.memsw.limit_in_bytes`
   * holds it (the engine makes it twice `--memory` when only that is set); 0 when unlimited.
   */
  memorySwapLimitBytes?: number;
  /**
   * Joined another container's network namespace (`--network container:<id>`, compose `network_mode: service:x`):
   * its interfaces and their counters are that container's.
   */
  sharesNetwork?: boolean;
  /**
   * What its events counted: starts, exits by reason, health transitions. The registry's own, not the engine's: a
   * record from an inspect has none, and `upsert` gives it those counted for its container so far.
   */
  events: EventCounts;
}

/** Docker's zero time (`0001-01-01T00:00:00Z`): a time that never was, such as the start of a container never run. */
export function isDockerZeroTime(text: unknown): boolean {
  return typeof text === "string" && text.startsWith("0001-01-01");
}

/** Parses a Docker timestamp (RFC 3339 with nanoseconds) to Unix seconds; Docker's zero time gives `undefined`. */
export function parseDockerTime(text: unknown): number | undefined {
  if (typeof text !== "string" || text === "" || isDockerZeroTime(text)) return undefined;
  // Date.parse keeps milliseconds only; the nanoseconds are added back so start times stay exact.
  const match = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(text);
  if (!match) return undefined;
  const whole = Date.parse(match[1] + match[3]);
  if (Number.isNaN(whole)) return undefined;
  const fraction = match[2] ? Number(`0.${match[2]}`) : 0;
  return whole / 1000 + fraction;
}

/** Podman's own state names, mapped onto Docker's. */
const STATE_ALIASES: Record<string, ContainerState> = {
  configured: "created",
  initialized: "created",
  stopped: "exited",
  stopping: "running",
};

/** Maps an engine's state name onto Docker's seven; anything unknown counts as `dead` (not usable). */
export function asState(status: string | undefined): ContainerState {
  const name = (status ?? "").toLowerCase();
  if ((CONTAINER_STATES as readonly string[]).includes(name)) return name as ContainerState;
  return STATE_ALIASES[name] ?? "dead";
}

function asHealth(status: string | undefined): HealthState {
  return (HEALTH_STATES as readonly string[]).includes(status ?? "") ? status as HealthState : "none";
}

/**
 * Shares equal strings between records, so that an image name, image id or label value that thousands of
 * containers repeat is held once rather than once per container: such strings are a large part of a record (see
 * bench/RESULTS.md). Bounded: once it holds `capacity` strings it starts afresh, so that values of removed
 * containers do not pile up; a string longer than `maxLength` is never pooled.
 */
export class StringPool {
  #strings = new Map<string, string>();

  constructor(private readonly capacity = 4096, private readonly maxLength = 256) {}

  /** The pooled string equal to `value`, pooling `value` if none is. */
  intern(value: string): string {
    if (value.length > this.maxLength) return value;
    const pooled = this.#strings.get(value);
    if (pooled !== undefined) return pooled;
    if (this.#strings.size >= this.capacity) this.#strings.clear();
    this.#strings.set(value, value);
    return value;
  }
}

/**
 * The longest label key a record keeps; a longer label is dropped. Compose's keys and any a user selects are far
 * shorter, and a label is held for as long as its container lives.
 */
export const MAX_LABEL_KEY_CHARS = 256;

/**
 * The longest label value a record keeps; a longer one is cut to this many characters. A value is exported on every
 * scrape as a Prometheus label value, where a few lines of text is already more than a dashboard shows, and one of
 * megabytes would be held, and sent, for as long as its container lives.
 */
export const MAX_LABEL_VALUE_CHARS = 4096;

/**
 * Builds a record from `GET /containers/{id}/json`, keeping nothing of the document but the fields it reads, and
 * of its labels only those `keepLabel` accepts (all by default), within `MAX_LABEL_KEY_CHARS` and
 * `MAX_LABEL_VALUE_CHARS`. Strings that containers share go through `pool` when one is given.
 */
export function recordFromInspect(
  inspect: ContainerInspect,
  pool?: StringPool,
  keepLabel: (key: string) => boolean = () => true,
): ContainerRecord {
  const state = inspect.State ?? {};
  const host = inspect.HostConfig ?? {};
  const share = pool ? (value: string) => pool.intern(value) : (value: string) => value;
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(inspect.Config?.Labels ?? {})) {
    if (key.length > MAX_LABEL_KEY_CHARS || !keepLabel(key)) continue;
    labels[key] = share(value.length > MAX_LABEL_VALUE_CHARS ? cutLabelValue(value) : value);
  }
  return {
    id: inspect.Id,
    name: (inspect.Name ?? "").replace(/^\//, ""),
    image: share(inspect.Config?.Image ?? ""),
    imageId: share(inspect.Image ?? ""),
    labels,
    state: asState(state.Status),
    createdSeconds: parseDockerTime(inspect.Created),
    startedSeconds: parseDockerTime(state.StartedAt),
    finishedSeconds: parseDockerTime(state.FinishedAt),
    restartCount: inspect.RestartCount ?? 0,
    exitCode: state.ExitCode ?? 0,
    oomKilled: state.OOMKilled === true,
    health: asHealth(state.Health?.Status),
    failingStreak: state.Health?.FailingStreak ?? 0,
    pid: positive(state.Pid),
    memoryLimitBytes: positive(host.Memory),
    // `--cpus` sets NanoCpus and the engine writes a quota for the default period; it refuses both at once.
    cpuQuotaMicros: positive(host.CpuQuota) || Math.round(positive(host.NanoCpus) * DEFAULT_CFS_PERIOD_MICROS / 1e9),
    cpuPeriodMicros: positive(host.CpuPeriod) || DEFAULT_CFS_PERIOD_MICROS,
    cpuShares: positive(host.CpuShares) || DEFAULT_CPU_SHARES,
    memoryReservationBytes: positive(host.MemoryReservation),
    // -1 (unlimited) and 0 (unset, with no memory limit either) are both 0, as cAdvisor reports no limit.
    memorySwapLimitBytes: positive(host.MemorySwap),
    sharesNetwork: typeof host.NetworkMode === "string" && host.NetworkMode.startsWith("container:"),
    events: NO_EVENTS,
  };
}

/**
 * The first `MAX_LABEL_VALUE_CHARS` characters of `value` (one fewer when the last would be half a surrogate
 * pair), as a string of their own: V8 makes a slice that refers to the whole string, which would keep it alive.
 */
function cutLabelValue(value: string): string {
  const last = value.charCodeAt(MAX_LABEL_VALUE_CHARS - 1);
  const end = last >= 0xd800 && last <= 0xdbff ? MAX_LABEL_VALUE_CHARS - 1 : MAX_LABEL_VALUE_CHARS;
  return JSON.parse(JSON.stringify(value.slice(0, end)));
}

/** The kernel's CFS period when none is set: 100 ms. */
const DEFAULT_CFS_PERIOD_MICROS = 100_000;

/** The kernel's CPU shares (cgroup v1 `cpu.shares`) when none are set. */
const DEFAULT_CPU_SHARES = 1024;

/** A positive number, or 0 for anything else (absent, null, negative such as an unlimited -1). */
function positive(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : 0;
}

/** The health a list entry's Status shows: `Up 5 minutes (healthy)`; `undefined` when it shows none. */
export function healthFromStatus(status: string | undefined): HealthState | undefined {
  const match = /\((healthy|unhealthy|health: starting)\)/.exec(status ?? "");
  if (!match) return undefined;
  return match[1] === "health: starting" ? "starting" : match[1] as HealthState;
}

/** True when a list entry shows something the record does not (so the container needs a fresh inspect). */
export function summaryDiffers(record: ContainerRecord, summary: ContainerSummary): boolean {
  if (summary.State !== undefined && summary.State !== record.state) return true;
  const name = summary.Names?.[0]?.replace(/^\//, "");
  if (name !== undefined && name !== record.name) return true;
  const health = healthFromStatus(summary.Status);
  return (health ?? "none") !== record.health && record.state === "running";
}

interface Entry {
  record: ContainerRecord;
  lastSeenMs: number;
}

/**
 * The registry. Every change bumps `version`, so renderers can cache by it.
 * Removed ids are remembered for `tombstoneMs` so that a late answer about a destroyed container
 * cannot bring it back.
 */
export class ContainerRegistry {
  #entries = new Map<string, Entry>();
  #tombstones = new Map<string, number>();
  /**
   * Event counts of containers without a record yet (created and started before their inspect answered), by id, and
   * when they were last counted: `upsert` gives them to the record when it comes.
   */
  #unclaimed = new Map<string, { counts: EventCounts; countedMs: number }>();
  #version = 0;

  constructor(private readonly tombstoneMs: number) {}

  /** Increases on every change to what `containers()` returns. */
  get version(): number {
    return this.#version;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Every record, in no particular order. */
  containers(): ContainerRecord[] {
    return Array.from(this.#entries.values(), (entry) => entry.record);
  }

  get(id: string): ContainerRecord | undefined {
    return this.#entries.get(id)?.record;
  }

  has(id: string): boolean {
    return this.#entries.has(id);
  }

  /**
   * Stores a fresh record (and marks it seen), unless its container was removed. Returns whether it was stored. The
   * record takes the event counts the registry holds for its container, if any.
   */
  upsert(record: ContainerRecord, nowMs: number): boolean {
    if (this.#tombstones.has(record.id)) return false;
    const previous = this.#entries.get(record.id);
    const counts = previous?.record.events ?? this.#unclaimed.get(record.id)?.counts;
    this.#unclaimed.delete(record.id);
    if (counts !== undefined && counts !== record.events) record = { ...record, events: counts };
    const same = previous !== undefined && sameRecord(previous.record, record);
    // An unchanged container keeps its record object: the scrape cache compares records by identity.
    this.#entries.set(record.id, { record: same ? previous.record : record, lastSeenMs: nowMs });
    if (!same) this.#version++;
    return true;
  }

  /** Changes some fields of a known container at once (from an event, before a fresh inspect lands). */
  patch(id: string, changes: Partial<ContainerRecord>, nowMs: number): void {
    const entry = this.#entries.get(id);
    if (!entry) return;
    const record = { ...entry.record, ...changes };
    entry.lastSeenMs = nowMs;
    if (!sameRecord(entry.record, record)) {
      entry.record = record;
      this.#version++;
    }
  }

  /**
   * Counts an event of container `id`: its counts become `next(counts, health)`, given its counts so far and the
   * health its record shows (`undefined` without a record). A container without a record yet keeps its counts for
   * the record to come; a removed one counts nothing.
   */
  count(id: string, next: (counts: EventCounts, health: HealthState | undefined) => EventCounts, nowMs: number): void {
    if (this.#tombstones.has(id)) return;
    const entry = this.#entries.get(id);
    if (entry) {
      const events = next(entry.record.events, entry.record.health);
      if (events === entry.record.events) return;
      // A new record, never a changed one: the scrape cache keeps each record's lines.
      entry.record = { ...entry.record, events };
      this.#version++;
      return;
    }
    const before = this.#unclaimed.get(id)?.counts ?? NO_EVENTS;
    const counts = next(before, undefined);
    if (counts !== before) this.#unclaimed.set(id, { counts, countedMs: nowMs });
  }

  /** Notes that the engine still reports this container. */
  markSeen(id: string, nowMs: number): void {
    const entry = this.#entries.get(id);
    if (entry) entry.lastSeenMs = nowMs;
  }

  /** Forgets a container for good (destroyed or vanished), with its counts. Returns whether it was known. */
  remove(id: string, nowMs: number): boolean {
    this.#tombstones.set(id, nowMs);
    return this.forget(id);
  }

  /**
   * Forgets a container and its counts, but not for good: a record for it may come again (one the container filters
   * leave out now may be taken in after a rename). Returns whether it was known.
   */
  forget(id: string): boolean {
    this.#unclaimed.delete(id);
    const had = this.#entries.delete(id);
    if (had) this.#version++;
    return had;
  }

  /**
   * Drops containers missing from a full list whose request started at `listStartedMs`,
   * unless something newer than the list (an event) has shown them since. Returns the dropped ids.
   */
  dropMissing(listedIds: ReadonlySet<string>, listStartedMs: number, nowMs: number): string[] {
    const dropped: string[] = [];
    for (const [id, entry] of this.#entries) {
      if (!listedIds.has(id) && entry.lastSeenMs < listStartedMs) {
        this.remove(id, nowMs);
        dropped.push(id);
      }
    }
    return dropped;
  }

  /**
   * Drops every container not seen within `staleAfterMs`, and the counts of containers without a record not counted
   * within it, and expires old tombstones. Returns the dropped ids.
   */
  sweep(nowMs: number, staleAfterMs: number): string[] {
    const dropped: string[] = [];
    for (const [id, entry] of this.#entries) {
      if (nowMs - entry.lastSeenMs > staleAfterMs) {
        this.#entries.delete(id);
        dropped.push(id);
      }
    }
    if (dropped.length > 0) this.#version++;
    for (const [id, { countedMs }] of this.#unclaimed) {
      if (nowMs - countedMs > staleAfterMs) this.#unclaimed.delete(id);
    }
    for (const [id, removedMs] of this.#tombstones) {
      if (nowMs - removedMs > this.tombstoneMs) this.#tombstones.delete(id);
    }
    return dropped;
  }
}

function sameRecord(a: ContainerRecord, b: ContainerRecord): boolean {
  // The same number of fields too: a field only `b` has would otherwise go unseen, and `upsert` would keep `a`.
  const keys = Object.keys(a) as (keyof ContainerRecord)[];
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) {
    if (key === "labels") continue;
    if (a[key] !== b[key]) return false;
  }
  const aLabels = Object.keys(a.labels);
  if (aLabels.length !== Object.keys(b.labels).length) return false;
  return aLabels.every((key) => a.labels[key] === b.labels[key]);
}
