/**
 * The disk usage and data root families (their golden lines are in tests/testdata/scrape.prom): which containers and
 * volumes have series, what is there before the first collection, and that the scrape cache renders them again only
 * when a reading changed.
 */
import assert from "node:assert/strict";
import { dataRootFamilies, diskUsageFamilies } from "../../../lib/metrics/disk_usage_families.ts";
import { formatText, type MetricFamily } from "../../../lib/metrics/exposition.ts";
import type { DiskUsageReading } from "../../../lib/resources/disk_usage.ts";
import { containerRecord } from "../../support/records.ts";

const READING: DiskUsageReading = {
  writableLayers: new Map([["a", 10], ["gone", 20]]),
  images: { dangling: { count: 0, bytes: 0 }, tagged: { count: 1, bytes: 5 } },
  volumes: [{ name: "nfs", sizeBytes: undefined, containers: 2 }],
  buildCacheBytes: undefined,
};

/** The sample lines of `families`, without HELP and TYPE. */
function lines(families: MetricFamily[]): string[] {
  return formatText(families).split("\n").filter((line) => line !== "" && !line.startsWith("#"));
}

Deno.test("container_fs_usage_bytes is there for the tracked containers the reading sizes, and only those", () => {
  const families = diskUsageFamilies([containerRecord("a"), containerRecord("b")], READING, 2000);
  assert.deepEqual(lines(families), [
    'container_fs_usage_bytes{id="a",name="a",image="busybox:1.36"} 10',
    "docker_exporter_disk_usage_duration_seconds 2",
    'docker_images{dangling="false"} 1',
    'docker_images{dangling="true"} 0',
    'docker_images_size_bytes{dangling="false"} 5',
    'docker_images_size_bytes{dangling="true"} 0',
    // A volume the engine did not size, and a build cache it does not have, have no series.
    'docker_volume_containers{volume="nfs"} 2',
  ]);
});

Deno.test("before the first collection, and without a data root reading, the families have no samples", () => {
  const families = [
    ...diskUsageFamilies([containerRecord("a")], undefined, undefined),
    ...dataRootFamilies([containerRecord("a")], undefined),
  ];
  assert.deepEqual(lines(families), []);
  assert.deepEqual(families.map((f) => f.name).sort(), [
    "container_fs_inodes_free",
    "container_fs_inodes_total",
    "container_fs_limit_bytes",
    "container_fs_usage_bytes",
    "docker_build_cache_size_bytes",
    "docker_exporter_disk_usage_duration_seconds",
    "docker_images",
    "docker_images_size_bytes",
    "docker_volume_containers",
    "docker_volume_size_bytes",
  ]);
});

Deno.test("container_fs_usage_bytes names the reading and the records as its inputs, so the cache keeps its lines", () => {
  const records = [containerRecord("a"), containerRecord("b")];
  const usage = diskUsageFamilies(records, READING, 1).find((f) => f.name === "container_fs_usage_bytes")!;
  // Compared by identity: a new collection or a changed record formats the family again, nothing else does.
  assert.equal(usage.inputs!.length, 3);
  assert.equal(usage.inputs![0], READING);
  assert.equal(usage.inputs![2], records[0]);
});
