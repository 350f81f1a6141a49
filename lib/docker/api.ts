/**
 * Read-only Docker Engine API calls: version and info through dockerode; the container list, inspect, stats and disk
 * usage through its modem (the exporter's own socket reader, `modem.ts`) directly.
 * Every call has a timeout; only GET endpoints are ever used.
 */
import type { DockerEndpoint } from "./endpoint.ts";
import { describeConnectError, DockerApiError, unusableAnswer } from "./errors.ts";
import { ConnectionPool, type StreamingResponse } from "./socket.ts";
import type { DockerodeConstructor } from "./dockerode.ts";
import { JsonArrayDecoder, JsonArrayError } from "./wire/mod.ts";
import { SocketModem } from "./modem.ts";
import { type DiskUsage, ITEMS_API_VERSION, streamDiskUsage } from "./disk_usage.ts";

/** `GET /version`, the fields the exporter uses. */
export interface EngineVersion {
  Version: string;
  ApiVersion: string;
  MinAPIVersion?: string;
  Os: string;
  KernelVersion: string;
}

/** `GET /info`, the fields the exporter uses. */
export interface EngineInfo {
  Name: string;
  /** Logical CPUs of the engine's host. */
  NCPU?: number;
  /** Memory of the engine's host, bytes. */
  MemTotal?: number;
  /** The engine's clock, e.g. `2026-11-26T14:40:00.123456789Z`; `since` is in its time. */
  SystemTime?: string;
  /** Where the engine keeps images, containers and volumes: `/var/lib/docker`; Podman's graph root. */
  DockerRootDir?: string;
}

/** One entry of `GET /containers/json?all=1`. */
export interface ContainerSummary {
  Id: string;
  Names?: string[];
  State?: string;
  Status?: string;
  /** Only the labels whose keys the API was asked to keep (`listLabelKeys`): the container filters read them. */
  Labels?: Record<string, string>;
}

/** `GET /containers/{id}/json`, the fields the exporter uses. */
export interface ContainerInspect {
  Id: string;
  Name: string;
  Image: string;
  Created: string;
  RestartCount: number;
  Config: { Image: string; Labels?: Record<string, string> | null };
  State: {
    Status: string;
    StartedAt: string;
    FinishedAt: string;
    ExitCode: number;
    OOMKilled: boolean;
    Health?: { Status: string; FailingStreak: number } | null;
    /** The container's init process on the host; 0 while it is not running. */
    Pid?: number;
  };
  /** Resource limits as set by `docker run`/`docker update`; 0 means not set. */
  HostConfig?: {
    Memory?: number;
    NanoCpus?: number;
    CpuQuota?: number;
    CpuPeriod?: number;
    CpuShares?: number;
    MemoryReservation?: number;
    /** Memory plus swap; -1 for unlimited swap. */
    MemorySwap?: number;
    /** `default`, `bridge`, `host`, `none`, a network's name, or `container:<id>`. */
    NetworkMode?: string;
  } | null;
}

/** One entry of a `blkio_stats` list in `GET /containers/{id}/stats`; `op` is `Read`/`Write` (v1) or `read`/`write` (v2). */
export interface BlkioStatEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

/** `GET /containers/{id}/stats?stream=false&one-shot=true`, the fields the exporter uses (cgroup v1 and v2 engines). */
export interface ContainerStats {
  /** When the engine took the reading; Docker's zero time for a container that is not running. */
  read?: string;
  cpu_stats?: {
    cpu_usage?: { total_usage?: number; usage_in_usermode?: number; usage_in_kernelmode?: number };
    throttling_data?: { periods?: number; throttled_periods?: number; throttled_time?: number };
  };
  memory_stats?: {
    usage?: number;
    /** cgroup v1 engines only. */
    max_usage?: number;
    failcnt?: number;
    limit?: number;
    stats?: Record<string, number>;
  };
  networks?: Record<string, {
    rx_bytes?: number;
    rx_packets?: number;
    rx_errors?: number;
    rx_dropped?: number;
    tx_bytes?: number;
    tx_packets?: number;
    tx_errors?: number;
    tx_dropped?: number;
  }>;
  blkio_stats?: {
    io_service_bytes_recursive?: BlkioStatEntry[] | null;
    io_serviced_recursive?: BlkioStatEntry[] | null;
  };
  pids_stats?: { current?: number; limit?: number };
}

/** The read-only calls the exporter makes; `main.ts` builds the dockerode one, tests may pass their own. */
export interface DockerApi {
  /** `GET /version` without a version prefix, so any engine answers; used to negotiate. */
  version(): Promise<EngineVersion>;
  /** Pins later calls to `apiVersion` (e.g. "1.41"). */
  useApiVersion(apiVersion: string): void;
  info(): Promise<EngineInfo>;
  listContainers(): Promise<ContainerSummary[]>;
  /** Returns `undefined` when the container no longer exists (404). */
  inspectContainer(id: string): Promise<ContainerInspect | undefined>;
  /**
   * One reading of a container's resource use (`stream=false&one-shot=true`: no second sample, so the engine
   * answers at once on API 1.41 and newer). Returns `undefined` when the container no longer exists (404).
   */
  containerStats(id: string): Promise<ContainerStats | undefined>;
  /**
   * `GET /system/df`: what images, containers' writable layers, volumes and the build cache take on disk. The engine
   * works it out by walking every layer and volume, which takes minutes on a large host: this call has a timeout of
   * its own (`diskUsageTimeoutMs`).
   */
  diskUsage(): Promise<DiskUsage>;
  /** Closes the idle connections kept for reuse; calls made afterwards still work, without keeping theirs. */
  close(): void;
}

/**
 * How long `/system/df` may take. The engine walks every writable layer and volume to size them (a `du` of its data
 * root, images aside): seconds on a small host, minutes on one with thousands of containers or volumes of millions of
 * files. Two minutes lets such a host answer, and still ends a call that hangs well before the next collection at the
 * default interval (5 minutes), so at most one is ever in flight.
 */
export const DISK_USAGE_TIMEOUT_MS = 120_000;

/** The oldest API version whose fields the exporter relies on (Docker 1.13). */
export const MIN_API_VERSION = "1.25";

/** Compares two API versions such as "1.41" and "1.9" numerically. */
export function compareApiVersions(a: string, b: string): number {
  const [aMajor, aMinor] = a.split(".").map(Number);
  const [bMajor, bMinor] = b.split(".").map(Number);
  return aMajor !== bMajor ? aMajor - bMajor : (aMinor || 0) - (bMinor || 0);
}

/**
 * Picks the API version to speak: the engine's own current version, which it always accepts
 * (Docker 29 refuses anything below 1.44, Debian's 20.10 tops out at 1.41).
 * @throws DockerApiError when the engine is older than `MIN_API_VERSION` or reports no version.
 */
export function negotiateApiVersion(engine: Pick<EngineVersion, "ApiVersion">): string {
  const version = engine.ApiVersion;
  if (typeof version !== "string" || !/^\d+\.\d+$/.test(version)) {
    throw new DockerApiError(`Docker reported no usable API version (${JSON.stringify(version)})`, "version");
  }
  if (compareApiVersions(version, MIN_API_VERSION) < 0) {
    throw new DockerApiError(
      `Docker API ${version} is too old; the exporter needs ${MIN_API_VERSION} (Docker 1.13) or newer`,
      "version",
    );
  }
  return version;
}

/**
 * Builds the `DockerApi` on dockerode (`Docker` is the class `loadDockerode()` returns), with the exporter's own socket
 * reader as its modem. Every call is aborted after `timeoutMs` (`/system/df` after `diskUsageTimeoutMs`, default
 * `DISK_USAGE_TIMEOUT_MS`), or when `signal` aborts. Failures become `DockerApiError`s naming the operation, with the
 * HTTP status when there was one. A list entry keeps the labels whose keys are in `listLabelKeys` (none by default): a
 * list of 10,000 containers is taken every refresh, and most labels would be read for nothing.
 */
export function createDockerApi(
  endpoint: DockerEndpoint,
  options: {
    Docker: DockerodeConstructor;
    timeoutMs: number;
    diskUsageTimeoutMs?: number;
    signal?: AbortSignal;
    listLabelKeys?: ReadonlySet<string>;
  },
): DockerApi {
  const { Docker } = options;
  const listLabelKeys = options.listLabelKeys ?? new Set<string>();
  // Keep-alive connections, as many as the most calls made at once: the stats collection's 32 (the tracker's
  // inspects are 8), else most of each wave of stats calls would close its connection and the next wave open a new one.
  const pool = new ConnectionPool({ maxIdle: 32 });
  // `/version` stays unversioned after the version is pinned: on a reconnect it negotiates again, and an engine
  // upgraded in place (Docker 29 refuses anything below 1.44) must still answer it.
  const unversionedModem = new SocketModem(endpoint, { pool });
  const unversioned = new Docker({ modem: unversionedModem } as ConstructorParameters<DockerodeConstructor>[0]);
  let modem = unversionedModem;
  let docker = unversioned;
  let pinnedVersion: string | undefined;

  async function call<T>(
    operation: string,
    run: (abortSignal: AbortSignal) => Promise<T>,
    timeoutMs = options.timeoutMs,
  ): Promise<T> {
    // A timer cleared when the call ends, unlike AbortSignal.timeout's, which would keep every call's signals
    // alive for the whole timeout: memory that a burst of inspects adds up (see bench/RESULTS.md).
    const timeoutController = new AbortController();
    const timeout = timeoutController.signal;
    const timer = setTimeout(
      () => timeoutController.abort(new DOMException(`${operation} timed out`, "TimeoutError")),
      timeoutMs,
    );
    const abortSignal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
    try {
      // Settled at the abort whatever the call is doing: a connect to an unreachable tcp:// host waits for the kernel.
      return await settleOnAbort(run(abortSignal), abortSignal);
    } catch (error) {
      if (error instanceof DockerApiError && !abortSignal.aborted) throw error;
      // Aborted: say whether by the timeout or by shutting down, rather than what the cut connection looked like.
      const message = timeout.aborted
        ? `Docker did not answer ${operation} within ${timeoutMs} ms`
        : options.signal?.aborted
        ? `${operation} was cancelled`
        : describeConnectError(endpoint, error);
      throw new DockerApiError(message, operation, undefined, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    version: () =>
      call(
        "version",
        async (abortSignal) => checkObject<EngineVersion>(await unversioned.version({ abortSignal }), "version"),
      ),
    useApiVersion(apiVersion: string) {
      pinnedVersion = apiVersion;
      modem = new SocketModem(endpoint, { pool, apiVersion });
      docker = new Docker({ modem } as ConstructorParameters<DockerodeConstructor>[0]);
    },
    info: () =>
      call("info", async (abortSignal) => checkObject<EngineInfo>(await docker.info({ abortSignal }), "info")),
    listContainers: () => call("list", (abortSignal) => streamList(modem, abortSignal, listLabelKeys)),
    // Inspects and stats go through the modem but not through dockerode: dockerode would put the id into the path
    // as it is, and an id from the event stream is not trusted to be hex, so it is encoded; and a burst of events or
    // a stats collection makes hundreds of calls, each with limits of its own.
    inspectContainer: (id: string) =>
      call("inspect", async (abortSignal) => {
        // An inspect is 2–10 KB; a container with huge labels can make it megabytes, which are read all the same.
        const answer = await getJson(`/containers/${encodeURIComponent(id)}/json`, "inspect", abortSignal, {
          readBytes: 16 * 1024,
          maxBytes: MAX_INSPECT_BYTES,
          accept: (value) => checkAnsweredFor(value, "Id", id, "inspect"),
        });
        return answer === GONE ? undefined : checkInspect(answer);
      }),
    containerStats: (id: string) =>
      call("stats", async (abortSignal) => {
        const path = `/containers/${encodeURIComponent(id)}/stats?stream=false&one-shot=true`;
        // A stats answer is 2–4 KB: a 64 KiB buffer per call, 100 calls a collection, is garbage for nothing.
        const answer = await getJson(path, "stats", abortSignal, {
          readBytes: 8 * 1024,
          maxBytes: MAX_STATS_BYTES,
          accept: (value) => checkAnsweredFor(value, "id", id, "stats"),
        });
        return answer === GONE ? undefined : checkObject<ContainerStats>(answer, "stats");
      }),
    diskUsage: () =>
      call(
        "df",
        (abortSignal) =>
          streamDiskUsage(
            modem,
            pinnedVersion !== undefined && compareApiVersions(pinnedVersion, ITEMS_API_VERSION) >= 0,
            abortSignal,
          ),
        options.diskUsageTimeoutMs ?? DISK_USAGE_TIMEOUT_MS,
      ),
    close: () => pool.close(),
  };

  /** `GET path` (under the pinned version) through the modem, its body parsed as JSON; `GONE` for a 404. */
  async function getJson(
    path: string,
    operation: string,
    abortSignal: AbortSignal,
    limits: { readBytes: number; maxBytes: number; accept: (value: unknown) => void },
  ): Promise<unknown> {
    try {
      // No head timeout of its own: `call()`'s timeout aborts the signal, which closes the connection.
      return await modem.request({ path, method: "GET", abortSignal, operation, ...limits });
    } catch (error) {
      if (error instanceof DockerApiError && error.status === 404) return GONE;
      throw error;
    }
  }
}

/** Resolves or rejects as `promise` does, or rejects with the signal's reason as soon as `signal` aborts. */
function settleOnAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/**
 * Refuses an answer whose `field` names another container than `id`: the answer to another request, read on a
 * connection that is out of step with its requests. The tracker and the resource collector ask with full ids, and
 * an engine asked by a prefix answers with the full id, so an id that starts with the one asked for is that
 * container. An answer without the field (stats from an engine that gives no `id`) is not checked here.
 * @throws DockerApiError (an unusable answer) for another container's answer.
 */
function checkAnsweredFor(value: unknown, field: "Id" | "id", id: string, operation: string): void {
  if (!isObject(value) || typeof value[field] !== "string") return;
  const answered = value[field] as string;
  if (answered === id || answered.startsWith(id)) return;
  throw unusableAnswer(operation, `another container's answer (asked for ${JSON.stringify(id)})`, answered);
}

/** What `getJson` returns for a 404: the container no longer exists. */
const GONE = Symbol("gone");

/** The most of a stats answer read: one is 2–4 KB, more with many networks or block devices. */
const MAX_STATS_BYTES = 1024 * 1024;

/**
 * The most of an inspect answer read. There is no limit on labels, and a valid 50 MB inspect is tracked; the
 * bound is for an engine or proxy that never stops sending, which the call's timeout alone would let run to
 * gigabytes on a fast socket.
 */
const MAX_INSPECT_BYTES = 128 * 1024 * 1024;

function checkObject<T>(value: unknown, operation: string): T {
  if (!isObject(value)) throw unusableAnswer(operation, "something that is not a JSON object", value);
  return value as T;
}

/**
 * The most entries a container list may have. An engine or proxy that never ends its list would otherwise fill
 * memory with entries until the call's timeout, on every retry; ten times a host of 10,000 containers is far from
 * any real list.
 */
const MAX_LIST_ENTRIES = 100_000;

/**
 * The most bytes of a container list read: an endless list of large entries would take long to reach
 * `MAX_LIST_ENTRIES`, reading all the while. Room for 10,000 containers with 25 KB of labels, mounts and networks
 * each.
 */
const MAX_LIST_BYTES = 256 * 1024 * 1024;

/**
 * `GET /containers/json?all=1` through the modem, decoded an entry at a time as it arrives and reduced to the fields
 * the exporter reads (dockerode's own listContainers would hold the whole answer, parsed; see bench/RESULTS.md). A
 * list that is not an array of entries with ids, or is longer than `MAX_LIST_ENTRIES` entries or
 * `MAX_LIST_BYTES`, is refused whole, so no container is dropped for it; reading stops at the first fault, so a huge
 * wrong answer is not read to its end.
 */
async function streamList(
  modem: SocketModem,
  abortSignal: AbortSignal,
  labelKeys: ReadonlySet<string>,
): Promise<ContainerSummary[]> {
  const response = await modem.request({
    path: "/containers/json?",
    method: "GET",
    options: { all: true },
    abortSignal,
    isStream: true,
  }) as StreamingResponse;
  const decoder = new JsonArrayDecoder();
  const list: ContainerSummary[] = [];
  let bytes = 0;
  try {
    for await (const piece of response.body) {
      bytes += piece.length;
      if (bytes > MAX_LIST_BYTES) throw unusableAnswer("list", `more than ${MAX_LIST_BYTES} bytes`, decoder.sample);
      for (const entry of decoder.push(piece)) {
        if (list.length === MAX_LIST_ENTRIES) {
          throw unusableAnswer("list", `more than ${MAX_LIST_ENTRIES} entries`, decoder.sample);
        }
        list.push(summaryOf(entry, labelKeys));
      }
    }
    // The body ends with its last chunk, or when the connection does: only the decoder can tell a list cut short.
    decoder.end();
    return list;
  } catch (error) {
    throw listError(error, decoder);
  } finally {
    response.close();
  }
}

/**
 * The fields of a list entry the exporter reads, each only if it has the right type: of its labels, the string values
 * of `labelKeys` only.
 */
function summaryOf(entry: Record<string, unknown>, labelKeys: ReadonlySet<string>): ContainerSummary {
  if (typeof entry.Id !== "string" || entry.Id === "") throw unusableAnswer("list", "an entry without an Id", entry);
  const { Id, Names, State, Status, Labels } = entry;
  const labels: Record<string, string> = {};
  if (isObject(Labels)) {
    for (const key of labelKeys) {
      if (Object.hasOwn(Labels, key) && typeof Labels[key] === "string") labels[key] = Labels[key] as string;
    }
  }
  return {
    Id,
    Names: Array.isArray(Names) && Names.every((name) => typeof name === "string") ? Names : undefined,
    State: typeof State === "string" ? State : undefined,
    Status: typeof Status === "string" ? Status : undefined,
    Labels: labels,
  };
}

function listError(error: unknown, decoder: JsonArrayDecoder): unknown {
  if (!(error instanceof JsonArrayError)) return error;
  return decoder.opened
    ? unusableAnswer("list", `a broken JSON array (${error.message})`, decoder.sample)
    : unusableAnswer("list", "something that is not a JSON array", decoder.sample);
}

/** Fields of an inspect document the exporter reads, and the type each must have when present. */
const INSPECT_FIELDS: [string[], "string" | "number" | "boolean" | "object"][] = [
  [["Name"], "string"],
  [["Image"], "string"],
  [["Created"], "string"],
  [["RestartCount"], "number"],
  [["Config"], "object"],
  [["Config", "Image"], "string"],
  [["Config", "Labels"], "object"],
  [["State"], "object"],
  [["State", "Status"], "string"],
  [["State", "StartedAt"], "string"],
  [["State", "FinishedAt"], "string"],
  [["State", "ExitCode"], "number"],
  [["State", "OOMKilled"], "boolean"],
  [["State", "Health"], "object"],
  [["State", "Health", "Status"], "string"],
  [["State", "Health", "FailingStreak"], "number"],
  [["State", "Pid"], "number"],
  [["HostConfig"], "object"],
  [["HostConfig", "Memory"], "number"],
  [["HostConfig", "NanoCpus"], "number"],
  [["HostConfig", "CpuQuota"], "number"],
  [["HostConfig", "CpuPeriod"], "number"],
  [["HostConfig", "CpuShares"], "number"],
  [["HostConfig", "MemoryReservation"], "number"],
  [["HostConfig", "MemorySwap"], "number"],
  [["HostConfig", "NetworkMode"], "string"],
];

/** An inspect document whose fields have the types the registry expects (absent or null ones are defaulted there). */
function checkInspect(value: unknown): ContainerInspect {
  if (!isObject(value) || typeof value.Id !== "string" || value.Id === "") {
    throw unusableAnswer("inspect", "something that is not a container", value);
  }
  for (const [path, type] of INSPECT_FIELDS) {
    let field: unknown = value;
    for (const key of path) field = isObject(field) ? field[key] : undefined;
    if (field === undefined || field === null) continue;
    if ((Array.isArray(field) ? "array" : typeof field) !== type) {
      throw unusableAnswer("inspect", `a ${path.join(".")} that is not a ${type}`, field);
    }
  }
  const labels = (value.Config as { Labels?: Record<string, unknown> } | undefined)?.Labels ?? {};
  for (const [key, label] of Object.entries(labels)) {
    if (typeof label !== "string") throw unusableAnswer("inspect", `a label ${key} that is not a string`, label);
  }
  return value as unknown as ContainerInspect;
}
