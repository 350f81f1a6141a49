/**
 * Per-container resource use (CPU, memory, network, block I/O, processes): the usage model, the cgroup-file
 * reader, the stats-API source, and the collector that reads one of them in the background. Disk use too: the
 * engine's disk usage answer, collected on a slow interval of its own, and the file system of its data root.
 *
 * May import `engine/`, `docker/` and `shared/`.
 * @module
 */
export { DENO_FILE_SYSTEM, openCgroupReader } from "./cgroup_reader.ts";
export type { FileSystem } from "./cgroup_reader.ts";
export {
  apiSource,
  cgroupSource,
  LAST_SEEN_KEPT_MS,
  RESOURCE_MODES,
  ResourceCollector,
  resourceTargets,
} from "./collector.ts";
export type { LastSeen, ResourceMode } from "./collector.ts";
export type { BlockIoUsage, ContainerUsage, MemoryUsage, NetworkUsage, PressureStall } from "./usage.ts";
export { DiskUsageCollector } from "./disk_usage.ts";
export type { DiskUsageReading, ImageTotals } from "./disk_usage.ts";
export { DataRootReader } from "./data_root.ts";
export type { FileSystemReading, StatFileSystem } from "./data_root.ts";
