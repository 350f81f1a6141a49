/**
 * Per-container resource use (CPU, memory, network, block I/O, threads): the usage model, the cgroup-file
 * reader, the stats-API source, and the collector that reads one of them in the background.
 *
 * May import `engine/`, `docker/` and `shared/`.
 * @module
 */
export { DENO_FILE_SYSTEM, openCgroupReader } from "./cgroup_reader.ts";
export type { FileSystem } from "./cgroup_reader.ts";
export { apiSource, cgroupSource, RESOURCE_MODES, ResourceCollector, resourceTargets } from "./collector.ts";
export type { ResourceMode } from "./collector.ts";
export type { BlockIoUsage, ContainerUsage, NetworkUsage } from "./usage.ts";
