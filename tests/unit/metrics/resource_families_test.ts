/**
 * The resource families: cAdvisor's names, types and labels, which containers get which series, a golden
 * scrape (tests/testdata/resource_metrics.prom) that `promtool check metrics` accepts.
 */
import assert from "node:assert/strict";
import type { ContainerRecord } from "../../../lib/engine/registry.ts";
import { formatText } from "../../../lib/metrics/exposition.ts";
import {
  RESOURCE_METRICS,
  resourceCollectorFamilies,
  resourceFamilies,
} from "../../../lib/metrics/resource_families.ts";
import { type ContainerUsage, usageFromStats } from "../../../lib/resources/usage.ts";
import { containerRecord } from "../../support/records.ts";
import { assertGolden, HAVE_PROMTOOL, promtoolCheckMetrics, testdata } from "../../support/golden.ts";

function record(id: string, changes: Partial<ContainerRecord> = {}): ContainerRecord {
  return containerRecord(id, {
    pid: 4242,
    memoryLimitBytes: 0,
    cpuQuotaMicros: 0,
    cpuPeriodMicros: 100_000,
    ...changes,
  });
}

const RECORDS: ContainerRecord[] = [
  record("c0ffee01", {
    name: "shop-web-1",
    image: "nginx:1.27",
    memoryLimitBytes: 268_435_456,
    cpuQuotaMicros: 150_000,
  }),
  record("c0ffee02", { name: "paused-worker", state: "paused" }),
  record("c0ffee03", { name: "stopped-since", state: "exited" }),
  record("c0ffee04", { name: "not-read-yet" }),
  record("c0ffee05", { name: 'odd "name"\\x' }),
];

const USAGE = new Map<string, ContainerUsage>([
  ["c0ffee01", {
    cpu: {
      totalSeconds: 8.123456,
      userSeconds: 6.1,
      systemSeconds: 2.023456,
      periods: 812,
      throttledPeriods: 97,
      throttledSeconds: 4.56789,
    },
    memory: {
      usageBytes: 157286400,
      workingSetBytes: 136314880,
      rssBytes: 104857600,
      cacheBytes: 41943040,
      failcnt: 12,
      oomKills: 1,
    },
    network: [
      {
        interface: "eth0",
        receiveBytes: 1043521,
        receivePackets: 9874,
        receiveErrors: 0,
        receiveDropped: 2,
        transmitBytes: 734210,
        transmitPackets: 6521,
        transmitErrors: 1,
        transmitDropped: 0,
      },
      {
        interface: "lo",
        receiveBytes: 5120,
        receivePackets: 64,
        receiveErrors: 0,
        receiveDropped: 0,
        transmitBytes: 5120,
        transmitPackets: 64,
        transmitErrors: 0,
        transmitDropped: 0,
      },
    ],
    blockIo: [{ device: "/dev/sda", readBytes: 1048576, writeBytes: 33554432, reads: 24, writes: 512 }],
    tasks: 7,
    tasksLimit: 512,
  }],
  // Paused: still holds memory. No quota, so no CFS series even though the kernel reports zeros.
  ["c0ffee02", {
    cpu: {
      totalSeconds: 1.5,
      userSeconds: 1,
      systemSeconds: 0.5,
      periods: 0,
      throttledPeriods: 0,
      throttledSeconds: 0,
    },
    memory: { usageBytes: 52428800, workingSetBytes: 0, rssBytes: 31457280, cacheBytes: 16777216 },
    network: [],
    blockIo: [],
    tasks: 3,
    tasksLimit: 0,
  }],
  // Read in the last collection, stopped since: left out at once.
  ["c0ffee03", { cpu: { totalSeconds: 9, userSeconds: 9, systemSeconds: 0 }, network: [], blockIo: [] }],
  ["c0ffee05", { network: [], blockIo: [], tasks: 1 }],
  // Not in the registry (removed since the collection): left out.
  ["deadbeef", { cpu: { totalSeconds: 1, userSeconds: 1, systemSeconds: 0 }, network: [], blockIo: [] }],
]);

const COLLECTOR = { sourceName: "cgroup" as const, lastDurationMs: 7, errors: 2, usage: USAGE };

Deno.test("resourceFamilies() renders the golden scrape tests/testdata/resource_metrics.prom", async () => {
  const text = formatText([...resourceFamilies(RECORDS, USAGE), ...resourceCollectorFamilies(COLLECTOR)]);
  await assertGolden("resource_metrics.prom", text);
});

Deno.test({
  name: "promtool check metrics accepts tests/testdata/resource_metrics.prom without a word",
  ignore: !HAVE_PROMTOOL,
  fn: async () => {
    const { code, output } = await promtoolCheckMetrics(await Deno.readTextFile(testdata("resource_metrics.prom")));
    assert.equal(output, "");
    assert.equal(code, 0);
  },
});

Deno.test("resourceFamilies() covers only running and paused containers the last collection read", () => {
  const names = (family: string) =>
    resourceFamilies(RECORDS, USAGE)
      .find((f) => f.name === family)!.samples
      .map((s) => Object.fromEntries(s.labels).name);
  assert.deepEqual(names("container_cpu_usage_seconds_total"), ["shop-web-1", "paused-worker"]);
  assert.deepEqual(names("container_threads"), ["shop-web-1", "paused-worker", 'odd "name"\\x']);
  // Spec and CFS series only where a quota is set, as in cAdvisor; the memory limit everywhere it is known.
  for (const family of ["container_cpu_cfs_periods_total", "container_spec_cpu_quota", "container_spec_cpu_period"]) {
    assert.deepEqual(names(family), ["shop-web-1"], family);
  }
  assert.deepEqual(names("container_spec_memory_limit_bytes"), ["shop-web-1", "paused-worker", 'odd "name"\\x']);
});

Deno.test("resourceFamilies() declares cAdvisor's families, empty when nothing was collected", () => {
  const families = resourceFamilies(RECORDS, new Map());
  assert.deepEqual(families.map((f) => `${f.name} ${f.type}`).sort(), [
    "container_cpu_cfs_periods_total counter",
    "container_cpu_cfs_throttled_periods_total counter",
    "container_cpu_cfs_throttled_seconds_total counter",
    "container_cpu_system_seconds_total counter",
    "container_cpu_usage_seconds_total counter",
    "container_cpu_user_seconds_total counter",
    "container_fs_reads_bytes_total counter",
    "container_fs_reads_total counter",
    "container_fs_writes_bytes_total counter",
    "container_fs_writes_total counter",
    "container_memory_cache gauge",
    "container_memory_failcnt gauge",
    "container_memory_rss gauge",
    "container_memory_usage_bytes gauge",
    "container_memory_working_set_bytes gauge",
    "container_network_receive_bytes_total counter",
    "container_network_receive_errors_total counter",
    "container_network_receive_packets_dropped_total counter",
    "container_network_receive_packets_total counter",
    "container_network_transmit_bytes_total counter",
    "container_network_transmit_errors_total counter",
    "container_network_transmit_packets_dropped_total counter",
    "container_network_transmit_packets_total counter",
    "container_oom_events_total counter",
    "container_spec_cpu_period gauge",
    "container_spec_cpu_quota gauge",
    "container_spec_memory_limit_bytes gauge",
    "container_threads gauge",
    "container_threads_max gauge",
  ]);
  assert.ok(families.every((f) => f.samples.length === 0));
  assert.deepEqual(
    resourceCollectorFamilies({ sourceName: undefined, lastDurationMs: undefined, errors: 0, usage: new Map() })
      .map((f) => [f.name, f.samples.length]),
    [
      ["docker_exporter_resource_source_info", 0],
      ["docker_exporter_resource_collection_duration_seconds", 0],
      ["docker_exporter_resource_containers", 0],
      ["docker_exporter_resource_read_errors_total", 1],
    ],
  );
});

Deno.test("resourceFamilies() labels every sample id, name, image, then the labels its RESOURCE_METRICS row names", () => {
  const families = resourceFamilies(RECORDS, USAGE);
  assert.deepEqual(families.map((f) => f.name), RESOURCE_METRICS.map((metric) => metric.name));
  for (const [i, metric] of RESOURCE_METRICS.entries()) {
    assert.ok(families[i].samples.length > 0, `${metric.name}: no sample to check`);
    for (const sample of families[i].samples) {
      assert.deepEqual(sample.labels.map(([name]) => name), ["id", "name", "image", ...(metric.labels ?? [])]);
    }
  }
});

Deno.test("resourceFamilies() gives inputs that change with a reading or a record, and only then", () => {
  const sameInputs = (a: { inputs?: readonly unknown[] }, b: { inputs?: readonly unknown[] }) =>
    a.inputs !== undefined && b.inputs !== undefined && a.inputs.length === b.inputs.length &&
    a.inputs.every((input, i) => input === b.inputs![i]);
  const before = resourceFamilies(RECORDS, USAGE);
  const again = resourceFamilies([...RECORDS].reverse(), new Map(USAGE));
  const newReading = new Map(USAGE);
  newReading.set("c0ffee01", { ...USAGE.get("c0ffee01")! });
  const reread = resourceFamilies(RECORDS, newReading);
  // A container that stopped leaves the families at once, before the next collection.
  const stopped = resourceFamilies(RECORDS.map((r) => r.id === "c0ffee05" ? { ...r, state: "exited" } : r), USAGE);
  for (const [i, family] of before.entries()) {
    assert.ok(sameInputs(family, again[i]), `${family.name}: the same records and readings`);
    assert.ok(!sameInputs(family, reread[i]), `${family.name}: a new reading`);
    assert.ok(!sameInputs(family, stopped[i]), `${family.name}: a container stopped`);
  }
});

Deno.test("usageFromStats() of an answer without memory_stats.stats (Podman's) gives usage but no working set, RSS or cache", () => {
  const usage = usageFromStats({
    cpu_stats: { cpu_usage: { total_usage: 1_000_000_000 } },
    memory_stats: { usage: 52_428_800, limit: 134_217_728 },
  });
  assert.deepEqual(usage.memory, { usageBytes: 52_428_800 });
  const text = formatText(resourceFamilies([record("c0")], new Map([["c0", usage]])));
  assert.match(text, /^container_memory_usage_bytes\{[^}]*\} 52428800$/m);
  for (const name of ["container_memory_working_set_bytes", "container_memory_rss", "container_memory_cache"]) {
    assert.doesNotMatch(text, new RegExp(`^${name}\\{`, "m"), `${name}: unknown, so no series`);
  }
});

Deno.test("resourceFamilies() gives a container in another's network namespace no network series, as cAdvisor", () => {
  const net = (bytes: number) => ({
    interface: "eth0",
    receiveBytes: bytes,
    receivePackets: 1,
    receiveErrors: 0,
    receiveDropped: 0,
    transmitBytes: 0,
    transmitPackets: 0,
    transmitErrors: 0,
    transmitDropped: 0,
  });
  // The sidecar reads /proc/<its pid>/net/dev, which is the main container's namespace: the same bytes again.
  const usage = new Map<string, ContainerUsage>([
    ["c0ffee01", { network: [net(1043521)], blockIo: [] }],
    ["c0ffee02", { network: [net(1043521)], blockIo: [] }],
  ]);
  const records = [record("c0ffee01", { name: "main" }), record("c0ffee02", { name: "sidecar", sharesNetwork: true })];
  const lines = formatText(resourceFamilies(records, usage)).split("\n")
    .filter((line) => line.startsWith("container_network_receive_bytes_total{"));
  assert.deepEqual(lines, [
    'container_network_receive_bytes_total{id="c0ffee01",name="main",image="busybox:1.36",interface="eth0"} 1043521',
  ]);
});

Deno.test("resourceFamilies() leaves out block I/O figures the source did not know, rather than writing 0", () => {
  const usage = new Map<string, ContainerUsage>([
    ["c0ffee01", { network: [], blockIo: [{ device: "8:0", readBytes: 4096, writeBytes: 8192 }] }],
  ]);
  const text = formatText(resourceFamilies([record("c0ffee01")], usage));
  assert.match(text, /^container_fs_writes_bytes_total\{[^}]*device="8:0"\} 8192$/m);
  assert.doesNotMatch(text, /^container_fs_(reads|writes)_total\{/m);
});
