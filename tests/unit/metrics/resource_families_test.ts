/**
 * The resource families: cAdvisor's names, types and labels, which containers get which series, a golden
 * scrape (tests/testdata/resource_metrics.prom) that `promtool check metrics` accepts.
 */
import assert from "node:assert/strict";
import type { ContainerRecord } from "../../../lib/engine/registry.ts";
import { formatText } from "../../../lib/metrics/exposition.ts";
import {
  LAST_SEEN,
  RESOURCE_METRICS,
  resourceCollectorFamilies,
  resourceFamilies,
} from "../../../lib/metrics/resource_families.ts";
import { ContainerLabels, labelKeyMatcher } from "../../../lib/metrics/labels.ts";
import type { LastSeen } from "../../../lib/resources/collector.ts";
import { type ContainerUsage, usageFromStats } from "../../../lib/resources/usage.ts";
import { containerRecord } from "../../support/records.ts";
import { assertGolden, HAVE_PROMTOOL, promtoolCheckMetrics, testdata } from "../../support/golden.ts";

function record(id: string, changes: Partial<ContainerRecord> = {}): ContainerRecord {
  return containerRecord(id, {
    pid: 4242,
    memoryLimitBytes: 0,
    cpuQuotaMicros: 0,
    cpuPeriodMicros: 100_000,
    cpuShares: 1024,
    memoryReservationBytes: 0,
    memorySwapLimitBytes: 0,
    ...changes,
  });
}

const RECORDS: ContainerRecord[] = [
  record("c0ffee01", {
    name: "shop-web-1",
    image: "nginx:1.27",
    memoryLimitBytes: 268_435_456,
    memoryReservationBytes: 134_217_728,
    memorySwapLimitBytes: 536_870_912,
    cpuQuotaMicros: 150_000,
    cpuShares: 512,
    health: "healthy",
    labels: { "com.example.team": "storefront" },
  }),
  record("c0ffee02", { name: "paused-worker", state: "paused", health: "unhealthy", startedSeconds: undefined }),
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
      bursts: 3,
      burstSeconds: 0.15,
    },
    // The reading of tests/testdata/cgroup/v2_cgroupfs.
    memory: {
      usageBytes: 157286400,
      workingSetBytes: 136314880,
      rssBytes: 104857600,
      cacheBytes: 41943040,
      failcnt: 12,
      oomKills: 1,
      highEvents: 5,
      maxEvents: 12,
      maxUsageBytes: 188743680,
      swapBytes: 4194304,
      kernelBytes: 5242880,
      mappedFileBytes: 8388608,
      activeFileBytes: 20971520,
      inactiveFileBytes: 20971520,
      dirtyBytes: 4096,
      writebackBytes: 0,
      pageFaults: 120034,
      majorPageFaults: 12,
      pagesScanned: 1024,
      pagesStolen: 512,
      refaultsFile: 64,
      refaultsAnon: 0,
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
    blockIo: [{
      device: "/dev/sda",
      major: 8,
      minor: 0,
      readBytes: 1048576,
      writeBytes: 33554432,
      reads: 24,
      writes: 512,
      bytesByOperation: { Read: 1048576, Write: 33554432 },
      cost: { usageSeconds: 2.5, waitSeconds: 0.125, indebtSeconds: 0, indelaySeconds: 0.04 },
    }],
    tasks: 7,
    tasksLimit: 512,
    pressure: {
      cpu: { waitingSeconds: 2.5, stalledSeconds: 0.75 },
      memory: { waitingSeconds: 0.12, stalledSeconds: 0.08 },
      io: { waitingSeconds: 3.4, stalledSeconds: 1.7 },
    },
    processes: { count: 2, fds: 11, sockets: 3, maxOpenFiles: 1048576 },
  }],
  // Paused: still holds memory. No quota, so no CFS series even though the kernel reports zeros. A cgroup v1 reading
  // (as of tests/testdata/cgroup/v1_cgroupfs_processes): v1 block I/O operations, no pressure.
  ["c0ffee02", {
    cpu: {
      totalSeconds: 1.5,
      userSeconds: 1,
      systemSeconds: 0.5,
      periods: 0,
      throttledPeriods: 0,
      throttledSeconds: 0,
      bursts: 0,
      burstSeconds: 0,
    },
    memory: { usageBytes: 52428800, workingSetBytes: 0, rssBytes: 31457280, cacheBytes: 16777216 },
    network: [],
    blockIo: [{
      device: "/dev/vda",
      major: 254,
      minor: 0,
      readBytes: 0,
      writeBytes: 262144,
      reads: 0,
      writes: 64,
      bytesByOperation: { Read: 0, Write: 262144, Sync: 262144, Async: 0, Discard: 0, Total: 262144 },
    }],
    tasks: 3,
    tasksLimit: 0,
    processes: { count: 3, fds: 12, sockets: 2, maxOpenFiles: 20000 },
  }],
  // Read in the last collection, stopped since: left out at once.
  ["c0ffee03", { cpu: { totalSeconds: 9, userSeconds: 9, systemSeconds: 0 }, network: [], blockIo: [] }],
  ["c0ffee05", { network: [], blockIo: [], tasks: 1 }],
  // Not in the registry (removed since the collection): left out.
  ["deadbeef", { cpu: { totalSeconds: 1, userSeconds: 1, systemSeconds: 0 }, network: [], blockIo: [] }],
]);

const COLLECTOR = { sourceName: "cgroup" as const, lastDurationMs: 7, errors: 2, usage: USAGE };

/**
 * When the collector last read each container: the running ones at its last collection, a container that has
 * stopped since (c0ffee03, its record still there) and one removed since (its record kept by the collector).
 */
const LAST_SEEN_AT = new Map<string, LastSeen>([
  ["c0ffee01", { record: RECORDS[0], seconds: 1_795_600_300 }],
  ["c0ffee02", { record: RECORDS[1], seconds: 1_795_600_300 }],
  ["c0ffee03", { record: { ...RECORDS[2], state: "running" }, seconds: 1_795_600_240 }],
  ["c0ffee05", { record: RECORDS[4], seconds: 1_795_600_300 }],
  ["deadbeef", { record: record("deadbeef", { name: "removed-since" }), seconds: 1_795_600_200 }],
]);

Deno.test("resourceFamilies() renders the golden scrape tests/testdata/resource_metrics.prom", async () => {
  const text = formatText([
    ...resourceFamilies(RECORDS, USAGE, { lastSeen: LAST_SEEN_AT }),
    ...resourceCollectorFamilies(COLLECTOR),
  ]);
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
  // CFS series and the quota only where a quota is set, as in cAdvisor; the period, shares and memory limits everywhere.
  for (const family of ["container_cpu_cfs_periods_total", "container_cpu_cfs_burst_periods_total"]) {
    assert.deepEqual(names(family), ["shop-web-1"], family);
  }
  assert.deepEqual(names("container_spec_cpu_quota"), ["shop-web-1"]);
  for (
    const family of ["container_spec_cpu_period", "container_spec_cpu_shares", "container_spec_memory_limit_bytes"]
  ) {
    assert.deepEqual(names(family), ["shop-web-1", "paused-worker", 'odd "name"\\x'], family);
  }
  // Pressure only where the source has it (cgroup v2), processes where cgroup.procs was read.
  assert.deepEqual(names("container_pressure_io_stalled_seconds_total"), ["shop-web-1"]);
  assert.deepEqual(names("container_processes"), ["shop-web-1", "paused-worker"]);
});

Deno.test("resourceFamilies() declares cAdvisor's families, empty when nothing was collected", () => {
  const families = resourceFamilies(RECORDS, new Map(), { lastSeen: new Map() });
  // Each checked against cAdvisor's lib/metrics/prometheus.go (v0.60.5): the same name and type, but for
  // container_memory_failcnt, a counter there whose name lacks _total.
  assert.deepEqual(families.map((f) => `${f.name} ${f.type}`).sort(), [
    "container_blkio_device_usage_total counter",
    "container_cpu_cfs_burst_periods_total counter",
    "container_cpu_cfs_burst_seconds_total counter",
    "container_cpu_cfs_periods_total counter",
    "container_cpu_cfs_throttled_periods_total counter",
    "container_cpu_cfs_throttled_seconds_total counter",
    "container_cpu_system_seconds_total counter",
    "container_cpu_usage_seconds_total counter",
    "container_cpu_user_seconds_total counter",
    "container_creation_time_seconds gauge",
    "container_file_descriptors gauge",
    "container_fs_io_cost_indebt_seconds_total counter",
    "container_fs_io_cost_indelay_seconds_total counter",
    "container_fs_io_cost_usage_seconds_total counter",
    "container_fs_io_cost_wait_seconds_total counter",
    "container_fs_reads_bytes_total counter",
    "container_fs_reads_total counter",
    "container_fs_writes_bytes_total counter",
    "container_fs_writes_total counter",
    "container_health_state gauge",
    "container_last_seen gauge",
    "container_memory_cache gauge",
    "container_memory_events_high_total counter",
    "container_memory_events_max_total counter",
    "container_memory_failcnt gauge",
    "container_memory_failures_total counter",
    "container_memory_file_dirty_bytes gauge",
    "container_memory_file_writeback_bytes gauge",
    "container_memory_kernel_usage gauge",
    "container_memory_mapped_file gauge",
    "container_memory_max_usage_bytes gauge",
    "container_memory_pgscan_total counter",
    "container_memory_pgsteal_total counter",
    "container_memory_rss gauge",
    "container_memory_swap gauge",
    "container_memory_total_active_file_bytes gauge",
    "container_memory_total_inactive_file_bytes gauge",
    "container_memory_usage_bytes gauge",
    "container_memory_working_set_bytes gauge",
    "container_memory_workingset_refault_anon_total counter",
    "container_memory_workingset_refault_file_total counter",
    "container_network_receive_bytes_total counter",
    "container_network_receive_errors_total counter",
    "container_network_receive_packets_dropped_total counter",
    "container_network_receive_packets_total counter",
    "container_network_transmit_bytes_total counter",
    "container_network_transmit_errors_total counter",
    "container_network_transmit_packets_dropped_total counter",
    "container_network_transmit_packets_total counter",
    "container_oom_events_total counter",
    "container_pressure_cpu_stalled_seconds_total counter",
    "container_pressure_cpu_waiting_seconds_total counter",
    "container_pressure_io_stalled_seconds_total counter",
    "container_pressure_io_waiting_seconds_total counter",
    "container_pressure_memory_stalled_seconds_total counter",
    "container_pressure_memory_waiting_seconds_total counter",
    "container_processes gauge",
    "container_sockets gauge",
    "container_spec_cpu_period gauge",
    "container_spec_cpu_quota gauge",
    "container_spec_cpu_shares gauge",
    "container_spec_memory_limit_bytes gauge",
    "container_spec_memory_reservation_limit_bytes gauge",
    "container_spec_memory_swap_limit_bytes gauge",
    "container_start_time_seconds gauge",
    "container_threads gauge",
    "container_threads_max gauge",
    "container_ulimits_soft gauge",
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

Deno.test("resourceFamilies() gives inputs that change with a reading (but for rows of the record alone) or a record, and only then", () => {
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
  const renamed = resourceFamilies(RECORDS.map((r) => r.id === "c0ffee01" ? { ...r, name: "new" } : r), USAGE);
  for (const [i, family] of before.entries()) {
    const ofRecord = RESOURCE_METRICS[i].ofRecord === true;
    assert.ok(sameInputs(family, again[i]), `${family.name}: the same records and readings`);
    assert.equal(sameInputs(family, reread[i]), ofRecord, `${family.name}: a new reading`);
    assert.ok(!sameInputs(family, stopped[i]), `${family.name}: a container stopped`);
    assert.ok(!sameInputs(family, renamed[i]), `${family.name}: a record replaced`);
  }
  // A row of the record alone indeed reads nothing of the reading: the same lines from any reading.
  const empty = new Map([...USAGE.keys()].map((id) => [id, { network: [], blockIo: [] }]));
  const blank = resourceFamilies(RECORDS, empty);
  for (const [i, metric] of RESOURCE_METRICS.entries()) {
    if (metric.ofRecord) assert.equal(formatText([blank[i]]), formatText([before[i]]), metric.name);
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

Deno.test("resourceFamilies() writes cAdvisor's container figures: health -1/0/1, start time or else creation, whole seconds", () => {
  const values = (family: string) =>
    resourceFamilies(RECORDS, USAGE).find((f) => f.name === family)!.samples
      .map((s) => [Object.fromEntries(s.labels).name, s.value]);
  assert.deepEqual(values("container_health_state"), [["shop-web-1", 1], ["paused-worker", 0], ['odd "name"\\x', -1]]);
  // paused-worker never started (no StartedAt): cAdvisor's fallback is the creation time.
  assert.deepEqual(values("container_start_time_seconds"), [
    ["shop-web-1", 1_795_600_001],
    ["paused-worker", 1_795_600_000],
    ['odd "name"\\x', 1_795_600_001],
  ]);
});

Deno.test("resourceFamilies() writes container_last_seen for stopped containers too, not removed ones, labelled by the current record", () => {
  const renamed = RECORDS.map((r) => r.id === "c0ffee01" ? { ...r, name: "shop-web-renamed" } : r);
  const family = resourceFamilies(renamed, USAGE, { lastSeen: LAST_SEEN_AT }).find((f) => f.name === LAST_SEEN.name)!;
  assert.equal(family.type, "gauge");
  assert.deepEqual(family.samples.map((s) => [Object.fromEntries(s.labels).name, s.value]), [
    ["shop-web-renamed", 1_795_600_300],
    ["paused-worker", 1_795_600_300],
    ["stopped-since", 1_795_600_240],
    ['odd "name"\\x', 1_795_600_300],
  ]);
  // Without the collector's lastSeen, no such family at all.
  assert.ok(!resourceFamilies(RECORDS, USAGE).some((f) => f.name === LAST_SEEN.name));
  // Its inputs change with lastSeen (a new collection), and stay while it and the records do.
  const again = resourceFamilies(renamed, USAGE, { lastSeen: LAST_SEEN_AT }).find((f) => f.name === LAST_SEEN.name)!;
  const next = resourceFamilies(renamed, USAGE, { lastSeen: new Map(LAST_SEEN_AT) })
    .find((f) => f.name === LAST_SEEN.name)!;
  const same = (a: readonly unknown[] | undefined, b: readonly unknown[] | undefined) =>
    a !== undefined && b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
  assert.ok(same(family.inputs, again.inputs));
  assert.ok(!same(family.inputs, next.inputs));
});

Deno.test("resourceFamilies() puts the selected container labels on every series when told to, after the family's own", () => {
  const labels = new ContainerLabels(labelKeyMatcher(["com.example.*"]), { onAllSeries: true });
  const families = resourceFamilies(RECORDS, USAGE, { labels, lastSeen: LAST_SEEN_AT });
  for (const family of families) {
    for (const sample of family.samples) {
      const names = sample.labels.map(([name]) => name);
      const id = Object.fromEntries(sample.labels).id;
      const extra = id === "c0ffee01" ? ["container_label_com_example_team"] : [];
      assert.deepEqual(names.slice(names.length - extra.length), extra, `${family.name} ${id}`);
      if (extra.length > 0) assert.equal(sample.labels.at(-1)![1], "storefront");
    }
  }
  // Off (the default), nothing is added; and the labels are an input, so turning them on renders anew.
  const off = resourceFamilies(RECORDS, USAGE, { labels: new ContainerLabels(labels.matches) });
  assert.ok(!formatText(off).includes("container_label_"));
  assert.notEqual(off[0].inputs![0], families[0].inputs![0]);
});
