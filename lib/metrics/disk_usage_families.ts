/**
 * Disk use: the families made from the engine's `/system/df` (writable layers, images, volumes, build cache, and how
 * long the last collection took), and cAdvisor's file system families for the file system of the engine's data root.
 * Pure: every input is an argument.
 */
import type { ContainerRecord } from "../engine/mod.ts";
import type { DiskUsageReading, FileSystemReading } from "../resources/mod.ts";
import type { MetricFamily, Sample } from "./exposition.ts";
import { family, type FamilyRow, groupedFamily, sortById } from "./families.ts";

type Labels = ReadonlyArray<readonly [string, string]>;

/** A family of the disk usage reading: a row of `DISK_USAGE_METRICS`. */
export type DiskUsageMetric = FamilyRow<[reading: DiskUsageReading]>;

const BOTH = [["true", "dangling"], ["false", "tagged"]] as const;

/** The engine-wide disk usage families, from the last `/system/df` answer. */
export const DISK_USAGE_METRICS: readonly DiskUsageMetric[] = [
  {
    name: "docker_images",
    type: "gauge",
    help: "Images the engine has, by whether they are dangling (no tag and no digest names them).",
    labels: ["dangling"],
    samples: (r) => BOTH.map(([dangling, kind]) => ({ labels: [["dangling", dangling]], value: r.images[kind].count })),
  },
  {
    name: "docker_images_size_bytes",
    type: "gauge",
    help: "Sum of the sizes of the images, by whether they are dangling; a layer images share counts in each.",
    labels: ["dangling"],
    samples: (r) => BOTH.map(([dangling, kind]) => ({ labels: [["dangling", dangling]], value: r.images[kind].bytes })),
  },
  {
    name: "docker_volume_size_bytes",
    type: "gauge",
    help: "Bytes of the volume's data (volumes of the local driver; the engine sizes no other).",
    labels: ["volume"],
    samples: (r) => perVolume(r, (v) => v.sizeBytes),
  },
  {
    name: "docker_volume_containers",
    type: "gauge",
    help: "Containers that use the volume, running or not.",
    labels: ["volume"],
    samples: (r) => perVolume(r, (v) => v.containers),
  },
  {
    name: "docker_build_cache_size_bytes",
    type: "gauge",
    help: "Bytes of the build cache, records shared with images left out.",
    value: (r) => r.buildCacheBytes,
  },
];

function perVolume(
  reading: DiskUsageReading,
  value: (volume: DiskUsageReading["volumes"][number]) => number | undefined,
): Sample[] {
  const samples: Sample[] = [];
  for (const volume of reading.volumes) {
    const v = value(volume);
    if (v !== undefined) samples.push({ labels: [["volume", volume.name]], value: v });
  }
  return samples;
}

/** A container with its writable layer's size. */
interface Layer {
  id: string;
  c: ContainerRecord;
  bytes: number;
}

/**
 * The labels of the container file system families: the container's, as every cAdvisor-named per-container family
 * here, and the `device` of the file system holding its writable layer (the data root's) when known. cAdvisor writes
 * `device` on each of them, and queries such as `container_fs_limit_bytes - container_fs_usage_bytes` match on it.
 */
const labelsOf = (c: ContainerRecord, device: string | undefined): Labels =>
  device === undefined
    ? [["id", c.id], ["name", c.name], ["image", c.image]]
    : [["id", c.id], ["name", c.name], ["image", c.image], ["device", device]];

/**
 * The disk usage families for the containers in `containers` (stopped ones too: their writable layers take disk all
 * the same) and the last reading; a container the engine listed no size for, or that was created since, has no
 * `container_fs_usage_bytes` until the next collection. No family has a sample before the first collection.
 */
export function diskUsageFamilies(
  containers: readonly ContainerRecord[],
  reading: DiskUsageReading | undefined,
  lastDurationMs: number | undefined,
  device?: string,
): MetricFamily[] {
  const layers: Layer[] = [];
  for (const c of reading ? containers : []) {
    const bytes = reading!.writableLayers.get(c.id);
    if (bytes !== undefined) layers.push({ id: c.id, c, bytes });
  }
  const sorted = sortById(layers);
  return [
    groupedFamily(
      "container_fs_usage_bytes",
      "gauge",
      "Bytes of the container's writable layer: the files it created or changed.",
      sorted,
      ({ c, bytes }) => [{ labels: labelsOf(c, device), value: bytes }],
      // Records and readings are replaced, never changed: the same ones give the same lines.
      [reading, device, ...sorted.map(({ c }) => c)],
    ),
    ...DISK_USAGE_METRICS.map(({ name, type, help, value, samples }) => {
      if (!reading) return family(name, type, help, []);
      if (samples) return family(name, type, help, samples(reading));
      const v = value(reading);
      return family(name, type, help, v === undefined ? [] : [{ labels: [], value: v }]);
    }),
    family(
      "docker_exporter_disk_usage_duration_seconds",
      "gauge",
      "How long the last successful disk usage collection (the engine's /system/df) took.",
      lastDurationMs === undefined ? [] : [{ labels: [], value: lastDurationMs / 1000 }],
    ),
  ];
}

/** A family of the data root's file system, one sample: a row of `DATA_ROOT_METRICS`. */
export interface DataRootMetric {
  name: string;
  type: MetricFamily["type"];
  help: string;
  value: (fs: FileSystemReading) => number;
}

/**
 * cAdvisor's file system families, per container: the file system holding the engine's data root, where every
 * container's writable layer is.
 */
export const DATA_ROOT_METRICS: readonly DataRootMetric[] = [
  {
    name: "container_fs_limit_bytes",
    type: "gauge",
    help: "Number of bytes that can be consumed by the container on the file system holding its writable layer.",
    value: (fs) => fs.sizeBytes,
  },
  {
    name: "container_fs_inodes_total",
    // A gauge in cAdvisor; a counter here because a gauge's name must not end in _total (promtool refuses it). It
    // only changes when the file system is grown or shrunk.
    type: "counter",
    help: "Number of inodes of the file system holding the container's writable layer.",
    value: (fs) => fs.inodes,
  },
  {
    name: "container_fs_inodes_free",
    type: "gauge",
    help: "Number of available inodes of the file system holding the container's writable layer.",
    value: (fs) => fs.inodesFree,
  },
];

/**
 * The data root's file system families, a sample per container with its labels and `device`, as cAdvisor writes
 * them for each container's root file system; no samples without a reading.
 */
export function dataRootFamilies(
  containers: readonly ContainerRecord[],
  reading: FileSystemReading | undefined,
): MetricFamily[] {
  const sorted = sortById(reading ? containers : []);
  return DATA_ROOT_METRICS.map(({ name, type, help, value }) =>
    groupedFamily(
      name,
      type,
      help,
      sorted,
      (c) => [{ labels: labelsOf(c, reading!.device), value: value(reading!) }],
      // Records and readings are replaced, never changed: the same ones give the same lines.
      [reading, ...sorted],
    )
  );
}
