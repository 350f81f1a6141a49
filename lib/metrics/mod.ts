/**
 * From what the exporter knows to exposition text, pure but for the process sample: label and family builders,
 * the per-container, engine, exporter, resource and disk usage families, and the text and OpenMetrics formatters.
 *
 * May import `resources/`, `engine/`, `docker/` (types) and `shared/`.
 * @module
 */
export { containerFamilies, ContainerLines } from "./container_families.ts";
export { dataRootFamilies, diskUsageFamilies } from "./disk_usage_families.ts";
export { engineFamilies, exporterFamilies } from "./exporter_families.ts";
export {
  byName,
  formatOpenMetricsBody,
  formatPieces,
  formatText,
  OPENMETRICS_CONTENT_TYPE,
  OPENMETRICS_EOF,
  TEXT_CONTENT_TYPE,
} from "./exposition.ts";
export type { MetricFamily } from "./exposition.ts";
export { ContainerLabels, exportedLabel, labelKeyMatcher, MAX_SERIES_LABEL_KEYS } from "./labels.ts";
export { createProcessReader } from "./process.ts";
export type { ProcessSample } from "./process.ts";
export { resourceCollectorFamilies, resourceFamilies } from "./resource_families.ts";
