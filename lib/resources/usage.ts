/**
 * One reading of a container's resource use, whichever source it came from (cgroup files or the engine's
 * stats API), and the conversion of a `GET /containers/{id}/stats` answer into it. Pure.
 */
import type { BlkioStatEntry, ContainerStats } from "../docker/mod.ts";

/** CPU time, in seconds since the container started; CFS counters where the kernel reports them. */
export interface CpuUsage {
  totalSeconds: number;
  userSeconds: number;
  systemSeconds: number;
  /** CFS enforcement periods elapsed (only counted while a quota is set). */
  periods?: number;
  throttledPeriods?: number;
  throttledSeconds?: number;
  /** CFS burst (Linux 5.14+): periods in which the cgroup ran on its burst allowance, and the time it did. */
  bursts?: number;
  burstSeconds?: number;
}

/** Memory, in bytes, as cAdvisor defines each figure. */
export interface MemoryUsage {
  /** Everything charged to the cgroup, page cache included (`memory.usage_in_bytes`, `memory.current`). */
  usageBytes: number;
  /**
   * Usage minus inactive file cache, floored at 0: what the kernel cannot easily reclaim. This and the next two are
   * unknown when a stats answer has no `memory_stats.stats` (Podman's).
   */
  workingSetBytes?: number;
  /** Anonymous memory (`total_rss`, v2 `anon`). */
  rssBytes?: number;
  /** Page cache (`total_cache`, v2 `file`). */
  cacheBytes?: number;
  /** Times usage hit the limit (v1 `memory.failcnt`, v2 `max` in `memory.events`); unknown through the API on v2. */
  failcnt?: number;
  /** Processes the kernel's OOM killer killed in the container (v1 `memory.oom_control`, v2 `memory.events`). */
  oomKills?: number;
  /** The highest usage recorded: v1 `memory.max_usage_in_bytes`, v2 `memory.peak` (Linux 5.19+). */
  maxUsageBytes?: number;
  /** Swap in use: v1 `total_swap` (there only with swap accounting), v2 `memory.swap.current`. */
  swapBytes?: number;
  /** Memory-mapped files: v1 `total_mapped_file`, v2 `file_mapped`. */
  mappedFileBytes?: number;
  /** Kernel memory: v1 `memory.kmem.usage_in_bytes`, v2 `kernel` in `memory.stat` (Linux 5.18+). */
  kernelBytes?: number;
  /** File cache on the active and inactive LRU lists: v1 `total_(in)active_file`, v2 `(in)active_file`. */
  activeFileBytes?: number;
  inactiveFileBytes?: number;
  /** Page cache waiting to be written back, and being written back: v1 `total_dirty`/`total_writeback`, v2 `file_*`. */
  dirtyBytes?: number;
  writebackBytes?: number;
  /** Page faults, all and major ones (`pgfault`, `pgmajfault`). */
  pageFaults?: number;
  majorPageFaults?: number;
  /** Pages scanned and reclaimed by page reclaim (v2 `pgscan`, `pgsteal`). */
  pagesScanned?: number;
  pagesStolen?: number;
  /** Refaults of evicted file and anonymous pages: v1 `total_workingset_refault_*` (Linux 5.9+), v2 `workingset_*`. */
  refaultsFile?: number;
  refaultsAnon?: number;
  /** v2 `memory.events`: times usage went over `memory.high`, and was about to go over `memory.max`. */
  highEvents?: number;
  maxEvents?: number;
}

/** Pressure stall information of one resource (cgroup v2 `*.pressure`), cumulative. */
export interface PressureStall {
  /** `some` total: time at least one task in the cgroup waited for the resource. */
  waitingSeconds: number;
  /** `full` total: time every non-idle task in the cgroup waited for it at once. */
  stalledSeconds: number;
}

/** The processes in the container's cgroup, from `cgroup.procs` and each one's `/proc/<pid>`. */
export interface ProcessUsage {
  /** Processes (not threads) in the cgroup: the lines of `cgroup.procs`. */
  count: number;
  /** Open file descriptors of those processes; unknown when no process's `/proc/<pid>/fd` could be read. */
  fds?: number;
  /** Of those, the ones that are sockets. */
  sockets?: number;
  /** The init process's soft limit on open files (`Max open files` in `/proc/<pid>/limits`); -1 for unlimited. */
  maxOpenFiles?: number;
}

/** One network interface's counters, from the container's network namespace. */
export interface NetworkUsage {
  interface: string;
  receiveBytes: number;
  receivePackets: number;
  receiveErrors: number;
  receiveDropped: number;
  transmitBytes: number;
  transmitPackets: number;
  transmitErrors: number;
  transmitDropped: number;
}

/** Block I/O on one device: bytes and operations. */
export interface BlockIoUsage {
  /** `/dev/<name>` when the device's name is known, else `major:minor`. */
  device: string;
  readBytes?: number;
  writeBytes?: number;
  /** Operations; unknown through the stats API of a cgroup v2 engine, which leaves `io_serviced_recursive` null. */
  reads?: number;
  writes?: number;
  /** The device's numbers, when known. */
  major?: number;
  minor?: number;
  /**
   * Bytes by operation as the kernel counts them: v1 `Read`, `Write`, `Sync`, `Async`, `Discard` and `Total`; v2 (as
   * runc and cAdvisor name `io.stat`'s `rbytes` and `wbytes`) `Read` and `Write`.
   */
  bytesByOperation?: Record<string, number>;
  /** The iocost controller's figures in v2 `io.stat` (`cost.usage`, `.wait`, `.indebt`, `.indelay`), when it is on. */
  cost?: { usageSeconds: number; waitSeconds: number; indebtSeconds: number; indelaySeconds: number };
}

/** Everything one collection learned about one container. A part the source could not read is left out. */
export interface ContainerUsage {
  cpu?: CpuUsage;
  memory?: MemoryUsage;
  network: NetworkUsage[];
  blockIo: BlockIoUsage[];
  /** Tasks (threads) in the container: `pids.current`. */
  tasks?: number;
  /** `pids.max`; 0 when unlimited, as cAdvisor reports it. */
  tasksLimit?: number;
  /** Pressure stall information, cgroup v2 only. */
  pressure?: { cpu?: PressureStall; memory?: PressureStall; io?: PressureStall };
  processes?: ProcessUsage;
}

/** Above this a memory or pids limit means "unlimited" (cgroup v1 writes ~2^63 rounded to a page). */
export const UNLIMITED_ABOVE = 2 ** 62;

/** Block devices by `major:minor`; names them `/dev/<name>`, or leaves `major:minor` when unknown. */
export function deviceName(names: ReadonlyMap<string, string>, major: number | string, minor: number | string): string {
  const key = `${major}:${minor}`;
  const name = names.get(key);
  return name === undefined ? key : `/dev/${name}`;
}

const NS = 1e9;

/** Which `memory.stat` key gives which optional memory figure. */
type StatKeys = ReadonlyArray<readonly [keyof MemoryUsage, string]>;

/**
 * The cgroup v1 `memory.stat` keys behind the optional memory figures: the hierarchical (`total_`) ones, as for RSS
 * and cache; `total_swap` is there only with swap accounting. A v1 engine's stats answer passes them on.
 */
export const V1_STAT_KEYS: StatKeys = [
  ["swapBytes", "total_swap"],
  ["mappedFileBytes", "total_mapped_file"],
  ["activeFileBytes", "total_active_file"],
  ["inactiveFileBytes", "total_inactive_file"],
  ["dirtyBytes", "total_dirty"],
  ["writebackBytes", "total_writeback"],
  ["pageFaults", "total_pgfault"],
  ["majorPageFaults", "total_pgmajfault"],
  ["refaultsFile", "total_workingset_refault_file"],
  ["refaultsAnon", "total_workingset_refault_anon"],
];

/** The same for cgroup v2 (`kernel` from Linux 5.18). */
export const V2_STAT_KEYS: StatKeys = [
  ["kernelBytes", "kernel"],
  ["mappedFileBytes", "file_mapped"],
  ["activeFileBytes", "active_file"],
  ["inactiveFileBytes", "inactive_file"],
  ["dirtyBytes", "file_dirty"],
  ["writebackBytes", "file_writeback"],
  ["pageFaults", "pgfault"],
  ["majorPageFaults", "pgmajfault"],
  ["pagesScanned", "pgscan"],
  ["pagesStolen", "pgsteal"],
  ["refaultsFile", "workingset_refault_file"],
  ["refaultsAnon", "workingset_refault_anon"],
];

/** Sets the figures of `keys` that `stat` has on `memory`; leaves the others out. */
export function putStatFigures(memory: MemoryUsage, keys: StatKeys, stat: (key: string) => number | undefined): void {
  for (const [field, key] of keys) {
    const value = stat(key);
    if (typeof value === "number") memory[field] = value;
  }
}

/**
 * Converts one `GET /containers/{id}/stats?stream=false&one-shot=true` answer, from a cgroup v1 or v2 host.
 * `devices` names block devices (from /proc/partitions) when the exporter can read them; else they stay `major:minor`.
 */
export function usageFromStats(
  stats: ContainerStats,
  devices: ReadonlyMap<string, string> = new Map(),
): ContainerUsage {
  const usage: ContainerUsage = { network: [], blockIo: [] };
  const cpu = stats.cpu_stats?.cpu_usage;
  if (cpu && typeof cpu.total_usage === "number") {
    const throttling = stats.cpu_stats?.throttling_data;
    usage.cpu = {
      totalSeconds: cpu.total_usage / NS,
      userSeconds: (cpu.usage_in_usermode ?? 0) / NS,
      systemSeconds: (cpu.usage_in_kernelmode ?? 0) / NS,
      ...(throttling
        ? {
          periods: throttling.periods ?? 0,
          throttledPeriods: throttling.throttled_periods ?? 0,
          throttledSeconds: (throttling.throttled_time ?? 0) / NS,
        }
        : {}),
    };
  }
  const memory = stats.memory_stats;
  if (memory && typeof memory.usage === "number") {
    const s = memory.stats ?? {};
    // cgroup v1 engines report memory.stat's total_* keys; v2 engines report v2's memory.stat keys. Without any
    // (Podman sends none), what is cache and what is not is unknown: no working set, RSS or cache rather than 0s.
    const v1 = "total_inactive_file" in s || "total_rss" in s;
    const known = Object.keys(s).length > 0;
    const inactiveFile = (v1 ? s.total_inactive_file : s.inactive_file) ?? 0;
    usage.memory = {
      usageBytes: memory.usage,
      ...(known
        ? {
          workingSetBytes: Math.max(0, memory.usage - inactiveFile),
          rssBytes: (v1 ? s.total_rss : s.anon) ?? 0,
          cacheBytes: (v1 ? s.total_cache : s.file) ?? 0,
        }
        : {}),
      // v1 engines leave failcnt out while it is 0; v2 has none.
      ...(v1 ? { failcnt: memory.failcnt ?? 0 } : {}),
    };
    // The same memory.stat keys the cgroup files give, where the engine passes them on; v2 engines send no peak or
    // swap, and neither sends kernel memory on v1.
    putStatFigures(usage.memory, v1 ? V1_STAT_KEYS : V2_STAT_KEYS, (key) => s[key]);
    if (v1 && typeof memory.max_usage === "number") usage.memory.maxUsageBytes = memory.max_usage;
  }
  for (const [name, net] of Object.entries(stats.networks ?? {})) {
    usage.network.push({
      interface: name,
      receiveBytes: net.rx_bytes ?? 0,
      receivePackets: net.rx_packets ?? 0,
      receiveErrors: net.rx_errors ?? 0,
      receiveDropped: net.rx_dropped ?? 0,
      transmitBytes: net.tx_bytes ?? 0,
      transmitPackets: net.tx_packets ?? 0,
      transmitErrors: net.tx_errors ?? 0,
      transmitDropped: net.tx_dropped ?? 0,
    });
  }
  const io = new Map<string, BlockIoUsage>();
  const add = (
    entries: readonly BlkioStatEntry[] | null | undefined,
    read: "readBytes" | "reads",
    write: "writeBytes" | "writes",
  ) => {
    // Only the figures an array is there for: a v2 engine sends no operation counts, which are unknown, not 0.
    for (const entry of entries ?? []) {
      const device = deviceName(devices, entry.major, entry.minor);
      let row = io.get(device);
      if (!row) io.set(device, row = { device, major: entry.major, minor: entry.minor, bytesByOperation: {} });
      const op = entry.op.toLowerCase();
      if (read === "readBytes") {
        // v2 engines write `read` and `write`; v1 engines and cAdvisor `Read`, `Write`, `Sync`, ...
        const name = entry.op.charAt(0).toUpperCase() + entry.op.slice(1).toLowerCase();
        row.bytesByOperation![name] = (row.bytesByOperation![name] ?? 0) + entry.value;
      }
      if (op !== "read" && op !== "write") continue;
      row[read] ??= 0;
      row[write] ??= 0;
      row[op === "read" ? read : write]! += entry.value;
    }
  };
  add(stats.blkio_stats?.io_service_bytes_recursive, "readBytes", "writeBytes");
  add(stats.blkio_stats?.io_serviced_recursive, "reads", "writes");
  usage.blockIo = [...io.values()];
  const pids = stats.pids_stats;
  if (pids && typeof pids.current === "number") {
    usage.tasks = pids.current;
    const limit = pids.limit ?? 0;
    usage.tasksLimit = limit > UNLIMITED_ABOVE ? 0 : limit;
  }
  return usage;
}
