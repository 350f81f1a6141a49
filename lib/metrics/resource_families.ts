/**
 * The per-container resource families, named, labelled and typed as cAdvisor names them, so dashboards and
 * alerts built on cAdvisor keep working; and the collector's own families. Pure: every input is an argument.
 */
import type { ContainerRecord } from "../engine/mod.ts";
import type { MetricFamily, Sample } from "./exposition.ts";
import { family, type FamilyRow, groupedFamily, sortById } from "./families.ts";
import type { BlockIoUsage, ContainerUsage, NetworkUsage } from "../resources/mod.ts";

type Labels = ReadonlyArray<readonly [string, string]>;

const NETWORK_COUNTERS: ReadonlyArray<readonly [keyof Omit<NetworkUsage, "interface">, string, string]> = [
  ["receiveBytes", "container_network_receive_bytes_total", "Cumulative count of bytes received."],
  ["receivePackets", "container_network_receive_packets_total", "Cumulative count of packets received."],
  [
    "receiveErrors",
    "container_network_receive_errors_total",
    "Cumulative count of errors encountered while receiving.",
  ],
  [
    "receiveDropped",
    "container_network_receive_packets_dropped_total",
    "Cumulative count of packets dropped while receiving.",
  ],
  ["transmitBytes", "container_network_transmit_bytes_total", "Cumulative count of bytes transmitted."],
  ["transmitPackets", "container_network_transmit_packets_total", "Cumulative count of packets transmitted."],
  [
    "transmitErrors",
    "container_network_transmit_errors_total",
    "Cumulative count of errors encountered while transmitting.",
  ],
  [
    "transmitDropped",
    "container_network_transmit_packets_dropped_total",
    "Cumulative count of packets dropped while transmitting.",
  ],
];

const BLOCK_IO_COUNTERS: ReadonlyArray<
  readonly [keyof Pick<BlockIoUsage, "readBytes" | "writeBytes" | "reads" | "writes">, string, string]
> = [
  ["readBytes", "container_fs_reads_bytes_total", "Cumulative count of bytes read."],
  ["writeBytes", "container_fs_writes_bytes_total", "Cumulative count of bytes written."],
  ["reads", "container_fs_reads_total", "Cumulative count of reads completed."],
  ["writes", "container_fs_writes_total", "Cumulative count of writes completed."],
];

/**
 * A per-container resource family: a row of `RESOURCE_METRICS`. Each sample is labelled `id`, `name` and `image`,
 * then `labels`. `quota` is the container's CPU quota, 0 for none.
 */
export type ResourceMetric = FamilyRow<[c: ContainerRecord, u: ContainerUsage, quota: number]>;

/** The labels every resource series starts with. */
const labelsOf = (c: ContainerRecord): Labels => [["id", c.id], ["name", c.name], ["image", c.image]];

/**
 * The type, labels and samples of a row for a counter with one sample per item of `itemsOf`, labelled with `label`
 * set to the item's `key`; an item whose `value` is undefined (not known to the source) has none.
 */
function perItem<T>(
  label: string,
  itemsOf: (c: ContainerRecord, u: ContainerUsage) => readonly T[],
  key: (item: T) => string,
  value: (item: T) => number | undefined,
) {
  return {
    type: "counter" as const,
    labels: [label],
    samples: (c: ContainerRecord, u: ContainerUsage): Sample[] => {
      const samples: Sample[] = [];
      for (const item of itemsOf(c, u)) {
        const v = value(item);
        if (v !== undefined) samples.push({ labels: [...labelsOf(c), [label, key(item)]], value: v });
      }
      return samples;
    },
  };
}

/** A container in another's network namespace would repeat that one's counters, so it has none, as in cAdvisor. */
const networkOf = (c: ContainerRecord, u: ContainerUsage) => c.sharesNetwork ? [] : u.network;
/** CFS periods are read only where a quota is set, as in cAdvisor. */
const cfs = (u: ContainerUsage, quota: number) => quota > 0 && u.cpu?.periods !== undefined ? u.cpu : undefined;

/** The resource families, as cAdvisor names, types and labels them. */
export const RESOURCE_METRICS: readonly ResourceMetric[] = [
  {
    name: "container_cpu_usage_seconds_total",
    type: "counter",
    help: "Cumulative cpu time consumed in seconds.",
    labels: ["cpu"],
    samples: (c, u) => u.cpu ? [{ labels: [...labelsOf(c), ["cpu", "total"]], value: u.cpu.totalSeconds }] : [],
  },
  {
    name: "container_cpu_user_seconds_total",
    type: "counter",
    help: "Cumulative user cpu time consumed in seconds.",
    value: (_, u) => u.cpu?.userSeconds,
  },
  {
    name: "container_cpu_system_seconds_total",
    type: "counter",
    help: "Cumulative system cpu time consumed in seconds.",
    value: (_, u) => u.cpu?.systemSeconds,
  },
  {
    name: "container_cpu_cfs_periods_total",
    type: "counter",
    help: "Number of elapsed enforcement period intervals.",
    value: (_, u, quota) => cfs(u, quota)?.periods,
  },
  {
    name: "container_cpu_cfs_throttled_periods_total",
    type: "counter",
    help: "Number of throttled period intervals.",
    value: (_, u, quota) => cfs(u, quota) && (u.cpu?.throttledPeriods ?? 0),
  },
  {
    name: "container_cpu_cfs_throttled_seconds_total",
    type: "counter",
    help: "Total time duration the container has been throttled.",
    value: (_, u, quota) => cfs(u, quota) && (u.cpu?.throttledSeconds ?? 0),
  },
  {
    name: "container_spec_cpu_quota",
    type: "gauge",
    help: "CPU quota of the container, in microseconds per period.",
    value: (_, __, quota) => quota > 0 ? quota : undefined,
  },
  {
    name: "container_spec_cpu_period",
    type: "gauge",
    help: "CPU period of the container, in microseconds.",
    value: (c, _, quota) => quota > 0 ? c.cpuPeriodMicros ?? 0 : undefined,
  },
  {
    name: "container_memory_usage_bytes",
    type: "gauge",
    help: "Current memory usage in bytes, including all memory regardless of when it was accessed.",
    value: (_, u) => u.memory?.usageBytes,
  },
  {
    name: "container_memory_working_set_bytes",
    type: "gauge",
    help: "Current working set in bytes (usage minus inactive page cache).",
    value: (_, u) => u.memory?.workingSetBytes,
  },
  {
    name: "container_memory_rss",
    type: "gauge",
    help: "Size of RSS (anonymous memory) in bytes.",
    value: (_, u) => u.memory?.rssBytes,
  },
  {
    name: "container_memory_cache",
    type: "gauge",
    help: "Number of bytes of page cache memory.",
    value: (_, u) => u.memory?.cacheBytes,
  },
  {
    name: "container_memory_failcnt",
    // A counter in cAdvisor; a gauge here because a counter's name must end in _total.
    type: "gauge",
    help: "Number of times memory usage hit the limit.",
    value: (_, u) => u.memory?.failcnt,
  },
  {
    name: "container_spec_memory_limit_bytes",
    type: "gauge",
    help: "Memory limit for the container in bytes (0: unlimited).",
    value: (c) => c.memoryLimitBytes,
  },
  {
    name: "container_oom_events_total",
    type: "counter",
    help: "Count of out of memory kills observed for the container.",
    value: (_, u) => u.memory?.oomKills,
  },
  ...NETWORK_COUNTERS.map(([field, name, help]) => ({
    name,
    help,
    ...perItem("interface", networkOf, (net) => net.interface, (net) => net[field]),
  })),
  ...BLOCK_IO_COUNTERS.map(([field, name, help]) => ({
    name,
    help,
    ...perItem("device", (_, u) => u.blockIo, (io) => io.device, (io) => io[field]),
  })),
  {
    name: "container_threads",
    type: "gauge",
    help: "Number of threads (tasks) running inside the container.",
    value: (_, u) => u.tasks,
  },
  {
    name: "container_threads_max",
    type: "gauge",
    help: "Maximum number of threads allowed inside the container (0: unlimited).",
    value: (_, u) => u.tasksLimit,
  },
];

/** A container the resource families cover, with its reading. */
interface Covered {
  id: string;
  c: ContainerRecord;
  u: ContainerUsage;
}

/**
 * The resource families, one for each row of `RESOURCE_METRICS`, for the containers in `containers` that are
 * running or paused and have a reading in `usage` (a container that stopped since the last collection leaves at
 * once). Every series carries `id` (the full container id), `name` and `image` (`Config.Image`). The CFS series and
 * `container_spec_cpu_quota`/`_period` are there only for containers with a CPU quota, as in cAdvisor.
 * Each family is made a container at a time as it is formatted (see `groupedFamily`).
 */
export function resourceFamilies(
  containers: readonly ContainerRecord[],
  usage: ReadonlyMap<string, ContainerUsage>,
): MetricFamily[] {
  const covered: Covered[] = [];
  for (const c of containers) {
    if (c.state !== "running" && c.state !== "paused") continue;
    const u = usage.get(c.id);
    if (u) covered.push({ id: c.id, c, u });
  }
  const sorted = sortById(covered);
  // Records and readings are replaced, never changed in place: the same ones in the same order give the same lines,
  // so a scrape cache keeps these families while only containers' other series change.
  const inputs = sorted.flatMap(({ c, u }) => [c, u]);
  return RESOURCE_METRICS.map(({ name, type, help, value, samples }) => {
    const samplesOf = value
      ? ({ c, u }: Covered): Sample[] => {
        const v = value(c, u, c.cpuQuotaMicros ?? 0);
        return v === undefined ? [] : [{ labels: labelsOf(c), value: v }];
      }
      : ({ c, u }: Covered) => samples(c, u, c.cpuQuotaMicros ?? 0);
    return groupedFamily(name, type, help, sorted, samplesOf, inputs);
  });
}

/** What the collector reports about itself. */
export interface CollectorStatus {
  sourceName: "cgroup" | "api" | undefined;
  lastDurationMs: number | undefined;
  errors: number;
  usage: ReadonlyMap<string, unknown>;
}

/** The collector's own families: its source, the last collection's duration and size, failed readings. */
export function resourceCollectorFamilies(collector: CollectorStatus): MetricFamily[] {
  const one = (value: number): Sample[] => [{ labels: [], value }];
  return [
    family(
      "docker_exporter_resource_source_info",
      "gauge",
      "Always 1; source says where resource metrics come from: cgroup (files) or api (the engine's stats API).",
      collector.sourceName ? [{ labels: [["source", collector.sourceName]], value: 1 }] : [],
    ),
    family(
      "docker_exporter_resource_collection_duration_seconds",
      "gauge",
      "How long the last collection of resource metrics took.",
      collector.lastDurationMs === undefined ? [] : one(collector.lastDurationMs / 1000),
    ),
    family(
      "docker_exporter_resource_containers",
      "gauge",
      "Containers the last collection of resource metrics read.",
      collector.lastDurationMs === undefined ? [] : one(collector.usage.size),
    ),
    family(
      "docker_exporter_resource_read_errors_total",
      "counter",
      "Container readings that failed for a reason other than the container being gone.",
      one(collector.errors),
    ),
  ];
}
