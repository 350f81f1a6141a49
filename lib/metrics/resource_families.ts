/**
 * The per-container resource families, named, labelled and typed as cAdvisor names them, so dashboards and
 * alerts built on cAdvisor keep working; and the collector's own families. Pure: every input is an argument.
 */
import type { ContainerRecord } from "../engine/mod.ts";
import type { MetricFamily, Sample } from "./exposition.ts";
import { family, type FamilyRow, groupedFamily, sortById, withSeriesLabels } from "./families.ts";
import { ContainerLabels } from "./labels.ts";
import type {
  BlockIoUsage,
  ContainerUsage,
  LastSeen,
  MemoryUsage,
  NetworkUsage,
  PressureStall,
} from "../resources/mod.ts";

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

/** The iocost figures of cgroup v2's `io.stat`, as cAdvisor names them. */
const IO_COST_COUNTERS: ReadonlyArray<readonly [keyof NonNullable<BlockIoUsage["cost"]>, string, string]> = [
  ["usageSeconds", "container_fs_io_cost_usage_seconds_total", "Cumulative IOCost usage in seconds"],
  ["waitSeconds", "container_fs_io_cost_wait_seconds_total", "Cumulative IOCost wait in seconds"],
  ["indebtSeconds", "container_fs_io_cost_indebt_seconds_total", "Cumulative IOCost debt in seconds"],
  ["indelaySeconds", "container_fs_io_cost_indelay_seconds_total", "Cumulative IOCost delay in seconds"],
];

/** One-number memory gauges and counters: the `MemoryUsage` field, cAdvisor's name, type and help. */
const MEMORY_FIGURES: ReadonlyArray<readonly [keyof MemoryUsage, string, "gauge" | "counter", string]> = [
  ["maxUsageBytes", "container_memory_max_usage_bytes", "gauge", "Maximum memory usage recorded in bytes"],
  ["swapBytes", "container_memory_swap", "gauge", "Container swap usage in bytes."],
  ["mappedFileBytes", "container_memory_mapped_file", "gauge", "Size of memory mapped files in bytes."],
  ["kernelBytes", "container_memory_kernel_usage", "gauge", "Size of kernel memory allocated in bytes."],
  ["activeFileBytes", "container_memory_total_active_file_bytes", "gauge", "Current total active file in bytes."],
  ["inactiveFileBytes", "container_memory_total_inactive_file_bytes", "gauge", "Current total inactive file in bytes."],
  [
    "dirtyBytes",
    "container_memory_file_dirty_bytes",
    "gauge",
    "Number of bytes of file cache that has been modified but not yet written back to disk.",
  ],
  [
    "writebackBytes",
    "container_memory_file_writeback_bytes",
    "gauge",
    "Number of bytes of file cache that is currently being written back to disk.",
  ],
  [
    "pagesScanned",
    "container_memory_pgscan_total",
    "counter",
    "Cumulative number of pages scanned by the page reclaim algorithm.",
  ],
  [
    "pagesStolen",
    "container_memory_pgsteal_total",
    "counter",
    "Cumulative number of pages reclaimed by the page reclaim algorithm.",
  ],
  [
    "refaultsFile",
    "container_memory_workingset_refault_file_total",
    "counter",
    "Cumulative number of refaults of previously evicted file pages.",
  ],
  [
    "refaultsAnon",
    "container_memory_workingset_refault_anon_total",
    "counter",
    "Cumulative number of refaults of previously evicted anonymous pages.",
  ],
  [
    "highEvents",
    "container_memory_events_high_total",
    "counter",
    "Cumulative count of memory.high throttle events for the container",
  ],
  [
    "maxEvents",
    "container_memory_events_max_total",
    "counter",
    "Cumulative count of memory.max limit hit events for the container",
  ],
];

/** The pressure families: resource, `waiting` (some) or `stalled` (full), and cAdvisor's help. */
const PRESSURE_COUNTERS: ReadonlyArray<readonly ["cpu" | "memory" | "io", keyof PressureStall, string]> = [
  ["cpu", "stalledSeconds", "no tasks in the container could make progress due to CPU congestion."],
  ["cpu", "waitingSeconds", "tasks in the container have waited due to CPU congestion."],
  ["memory", "stalledSeconds", "no tasks in the container could make progress due to memory congestion."],
  ["memory", "waitingSeconds", "tasks in the container have waited due to memory congestion."],
  ["io", "stalledSeconds", "no tasks in the container could make progress due to IO congestion."],
  ["io", "waitingSeconds", "tasks in the container have waited due to IO congestion."],
];

/**
 * A per-container resource family: a row of `RESOURCE_METRICS`. Each sample is labelled `id`, `name` and `image`,
 * then `labels`. `quota` is the container's CPU quota, 0 for none. `ofRecord` marks a row that reads the record
 * alone, never the reading: its lines stay the same from one collection to the next, so a scrape cache keeps them.
 */
export type ResourceMetric = FamilyRow<[c: ContainerRecord, u: ContainerUsage, quota: number]> & { ofRecord?: true };

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
/** Whole seconds, as cAdvisor writes its times (`time.Time.Unix()`). */
const wholeSeconds = (seconds: number | undefined) => seconds === undefined ? undefined : Math.floor(seconds);
/** cAdvisor's `container_health_state`: 1 healthy, 0 starting or unhealthy, -1 without a health check. */
const HEALTH_STATE = { healthy: 1, starting: 0, unhealthy: 0, none: -1 } as const;

/** The resource families, as cAdvisor names, types and labels them. */
export const RESOURCE_METRICS: readonly ResourceMetric[] = [
  {
    name: "container_start_time_seconds",
    type: "gauge",
    ofRecord: true,
    help: "Start time of the container since unix epoch in seconds.",
    // cAdvisor falls back to the creation time for a container that never started.
    value: (c) => wholeSeconds(c.startedSeconds ?? c.createdSeconds),
  },
  {
    name: "container_creation_time_seconds",
    type: "gauge",
    ofRecord: true,
    help: "Container creation time since unix epoch in seconds.",
    value: (c) => wholeSeconds(c.createdSeconds),
  },
  {
    name: "container_health_state",
    type: "gauge",
    ofRecord: true,
    help: "The result of the container's health check: 1 healthy, 0 starting or unhealthy, -1 without a health check.",
    value: (c) => HEALTH_STATE[c.health],
  },
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
    name: "container_cpu_cfs_burst_periods_total",
    type: "counter",
    help: "Number of periods when burst occurs.",
    value: (_, u, quota) => cfs(u, quota)?.bursts,
  },
  {
    name: "container_cpu_cfs_burst_seconds_total",
    type: "counter",
    help: "Total time duration the container has been bursted.",
    value: (_, u, quota) => cfs(u, quota)?.burstSeconds,
  },
  {
    name: "container_spec_cpu_quota",
    type: "gauge",
    ofRecord: true,
    help: "CPU quota of the container, in microseconds per period.",
    value: (_, __, quota) => quota > 0 ? quota : undefined,
  },
  {
    name: "container_spec_cpu_period",
    type: "gauge",
    ofRecord: true,
    help: "CPU period of the container, in microseconds.",
    // For every container, as cAdvisor writes it; only the quota is there for limited containers alone.
    value: (c) => c.cpuPeriodMicros,
  },
  {
    name: "container_spec_cpu_shares",
    type: "gauge",
    ofRecord: true,
    help: "CPU share of the container.",
    value: (c) => c.cpuShares,
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
  ...MEMORY_FIGURES.map(([field, name, type, help]): ResourceMetric => ({
    name,
    type,
    help,
    value: (_, u) => u.memory?.[field],
  })),
  {
    name: "container_memory_failcnt",
    // A counter in cAdvisor; a gauge here because a counter's name must end in _total.
    type: "gauge",
    help: "Number of times memory usage hit the limit.",
    value: (_, u) => u.memory?.failcnt,
  },
  {
    name: "container_memory_failures_total",
    type: "counter",
    help: "Cumulative count of memory allocation failures.",
    labels: ["failure_type", "scope"],
    // cAdvisor writes the cgroup's own page faults under both scopes; a container has no child cgroups to add.
    samples: (c, u) => {
      const m = u.memory;
      if (m?.pageFaults === undefined || m.majorPageFaults === undefined) return [];
      const samples: Sample[] = [];
      for (const scope of ["container", "hierarchy"]) {
        samples.push({ labels: [...labelsOf(c), ["failure_type", "pgfault"], ["scope", scope]], value: m.pageFaults });
        samples.push({
          labels: [...labelsOf(c), ["failure_type", "pgmajfault"], ["scope", scope]],
          value: m.majorPageFaults,
        });
      }
      return samples;
    },
  },
  {
    name: "container_spec_memory_limit_bytes",
    type: "gauge",
    ofRecord: true,
    help: "Memory limit for the container in bytes (0: unlimited).",
    value: (c) => c.memoryLimitBytes,
  },
  {
    name: "container_spec_memory_reservation_limit_bytes",
    type: "gauge",
    ofRecord: true,
    help: "Memory reservation limit for the container.",
    value: (c) => c.memoryReservationBytes,
  },
  {
    name: "container_spec_memory_swap_limit_bytes",
    type: "gauge",
    ofRecord: true,
    help: "Memory swap limit for the container.",
    value: (c) => c.memorySwapLimitBytes,
  },
  {
    name: "container_oom_events_total",
    type: "counter",
    help: "Count of out of memory kills observed for the container.",
    value: (_, u) => u.memory?.oomKills,
  },
  ...PRESSURE_COUNTERS.map(([resource, field, help]): ResourceMetric => ({
    name: `container_pressure_${resource}_${field === "stalledSeconds" ? "stalled" : "waiting"}_seconds_total`,
    type: "counter",
    help: `Total time duration ${help}`,
    value: (_, u) => u.pressure?.[resource]?.[field],
  })),
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
    name: "container_blkio_device_usage_total",
    type: "counter",
    help: "Blkio Device bytes usage",
    labels: ["device", "major", "minor", "operation"],
    samples: (c, u) => {
      const samples: Sample[] = [];
      for (const io of u.blockIo) {
        if (io.major === undefined || io.minor === undefined || !io.bytesByOperation) continue;
        const device = [
          ...labelsOf(c),
          ["device", io.device],
          ["major", String(io.major)],
          ["minor", String(io.minor)],
        ] as const;
        for (const [operation, bytes] of Object.entries(io.bytesByOperation)) {
          samples.push({ labels: [...device, ["operation", operation]], value: bytes });
        }
      }
      return samples;
    },
  },
  ...IO_COST_COUNTERS.map(([field, name, help]) => ({
    name,
    help,
    ...perItem("device", (_, u) => u.blockIo, (io) => io.device, (io) => io.cost?.[field]),
  })),
  {
    name: "container_processes",
    type: "gauge",
    help: "Number of processes running inside the container.",
    value: (_, u) => u.processes?.count,
  },
  {
    name: "container_file_descriptors",
    type: "gauge",
    help: "Number of open file descriptors for the container.",
    value: (_, u) => u.processes?.fds,
  },
  {
    name: "container_sockets",
    type: "gauge",
    help: "Number of open sockets for the container.",
    value: (_, u) => u.processes?.sockets,
  },
  {
    name: "container_ulimits_soft",
    type: "gauge",
    help: "Soft ulimit values for the container root process. Unlimited if -1, except priority and nice",
    labels: ["ulimit"],
    samples: (c, u) =>
      u.processes?.maxOpenFiles === undefined
        ? []
        : [{ labels: [...labelsOf(c), ["ulimit", "max_open_files"]], value: u.processes.maxOpenFiles }],
  },
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

/** The name and help of `container_last_seen`, which is not a row: it covers containers that are gone too. */
export const LAST_SEEN = {
  name: "container_last_seen",
  help: "Last time a container was seen by the exporter",
} as const;

/** A container the resource families cover, with its reading. */
interface Covered {
  id: string;
  c: ContainerRecord;
  u: ContainerUsage;
}

/** What `resourceFamilies` is told besides the containers and their readings. */
export interface ResourceFamiliesOptions {
  /** The container labels that go on every series (`ContainerLabels.series`); by default none. */
  labels?: ContainerLabels;
  /** When the collector last read each container (`ResourceCollector.lastSeen`): `container_last_seen`. */
  lastSeen?: ReadonlyMap<string, LastSeen>;
}

const NO_CONTAINER_LABELS = new ContainerLabels(() => false);

/**
 * The resource families, one for each row of `RESOURCE_METRICS`, for the containers in `containers` that are
 * running or paused and have a reading in `usage` (a container that stopped since the last collection leaves at
 * once), then `container_last_seen`. Every series carries `id` (the full container id), `name` and `image`
 * (`Config.Image`). The CFS series and `container_spec_cpu_quota` are there only for containers with a CPU quota,
 * as in cAdvisor. Each family is made a container at a time as it is formatted (see `groupedFamily`).
 *
 * `container_last_seen` has a series for every container of `containers` in `lastSeen`, running or not: the collector
 * keeps a container there for a while after it was last read, so that `time() - container_last_seen > 60` fires for a
 * container that stopped, as it does on cAdvisor's last sample. A container that is removed, or left out by the
 * filters, goes with its other series.
 */
export function resourceFamilies(
  containers: readonly ContainerRecord[],
  usage: ReadonlyMap<string, ContainerUsage>,
  options: ResourceFamiliesOptions = {},
): MetricFamily[] {
  const labels = options.labels ?? NO_CONTAINER_LABELS;
  const covered: Covered[] = [];
  const byId = options.lastSeen ? new Map<string, ContainerRecord>() : undefined;
  for (const c of containers) {
    byId?.set(c.id, c);
    if (c.state !== "running" && c.state !== "paused") continue;
    const u = usage.get(c.id);
    if (u) covered.push({ id: c.id, c, u });
  }
  const sorted = sortById(covered);
  // Records and readings are replaced, never changed in place: the same ones in the same order give the same lines,
  // so a scrape cache keeps these families while only containers' other series change, and keeps those that read
  // only the records across collections.
  const inputs = [labels, ...sorted.flatMap(({ c, u }) => [c, u])];
  const recordInputs = [labels, ...sorted.map(({ c }) => c)];
  const families = RESOURCE_METRICS.map(({ name, type, help, value, samples, ofRecord }) => {
    const own = value
      ? ({ c, u }: Covered): Sample[] => {
        const v = value(c, u, c.cpuQuotaMicros ?? 0);
        return v === undefined ? [] : [{ labels: labelsOf(c), value: v }];
      }
      : ({ c, u }: Covered) => samples(c, u, c.cpuQuotaMicros ?? 0);
    const samplesOf = withSeriesLabels(own, labels, ({ c }) => c.labels);
    return groupedFamily(name, type, help, sorted, samplesOf, ofRecord ? recordInputs : inputs);
  });
  if (options.lastSeen && byId) families.push(lastSeenFamily(options.lastSeen, byId, labels));
  return families;
}

/** `container_last_seen`, for every container in `lastSeen` that is still tracked (in `byId`), labelled by its record. */
function lastSeenFamily(
  lastSeen: ReadonlyMap<string, LastSeen>,
  byId: ReadonlyMap<string, ContainerRecord>,
  labels: ContainerLabels,
): MetricFamily {
  const seen = sortById(
    Array.from(lastSeen).flatMap(([id, { seconds }]) => {
      const c = byId.get(id);
      return c ? [{ id, c, seconds }] : [];
    }),
  );
  const samplesOf = ({ c, seconds }: (typeof seen)[number]): Sample[] => [{ labels: labelsOf(c), value: seconds }];
  // The readings' times and the records the labels come from.
  const inputs = [labels, lastSeen, ...seen.map(({ c }) => c)];
  return groupedFamily(
    LAST_SEEN.name,
    "gauge",
    LAST_SEEN.help,
    seen,
    withSeriesLabels(samplesOf, labels, ({ c }) => c.labels),
    inputs,
  );
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
