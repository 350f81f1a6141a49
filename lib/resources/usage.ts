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
      const op = entry.op.toLowerCase();
      if (op !== "read" && op !== "write") continue;
      const device = deviceName(devices, entry.major, entry.minor);
      let row = io.get(device);
      if (!row) io.set(device, row = { device });
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
