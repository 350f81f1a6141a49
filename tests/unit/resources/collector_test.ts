/**
 * The background resource collector with scripted sources: bounded concurrency, containers that vanish
 * mid-collection, results swapped in whole, nothing read while scrapes render, the choice of source
 * (`auto`, `cgroup`, `api`), and the stats API's answers converted from a real recording.
 */
import assert from "node:assert/strict";
import type { ResourceMode } from "../../../lib/resources/collector.ts";
import { type ContainerRecord, recordFromInspect } from "../../../lib/engine/registry.ts";
import type { ContainerInspect, ContainerStats } from "../../../lib/docker/api.ts";
import { NO_EVENTS } from "../../../lib/engine/event_counts.ts";
import { createLogger, type Logger, silentLogger } from "../../../lib/shared/logger.ts";
import {
  apiSource,
  type CollectorOptions,
  LAST_SEEN_KEPT_MS,
  ResourceCollector,
  type ResourceSource,
  type ResourceTarget,
  resourceTargets,
} from "../../../lib/resources/collector.ts";
import { resourceCollectorFamilies, resourceFamilies } from "../../../lib/metrics/resource_families.ts";
import { type ContainerUsage, usageFromStats } from "../../../lib/resources/usage.ts";
import { ScrapeCache } from "../../../lib/http/scrape/cache.ts";
import { containerRecord } from "../../support/records.ts";

function usage(cpuSeconds: number): ContainerUsage {
  return { cpu: { totalSeconds: cpuSeconds, userSeconds: cpuSeconds, systemSeconds: 0 }, network: [], blockIo: [] };
}

function targets(n: number): ResourceTarget[] {
  return Array.from({ length: n }, (_, i) => target(`c${i}`, 100 + i));
}

/** A target for a running container `id` whose init process is `pid`. */
function target(id: string, pid = 0): ResourceTarget {
  return { id, pid, record: containerRecord(id, { pid }) };
}

/** A source whose reads are counted and answered by `answer`. */
class ScriptedSource implements ResourceSource {
  reads: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  cycles = 0;
  constructor(
    readonly name: "cgroup" | "api",
    private readonly answer: (target: ResourceTarget) => Promise<ContainerUsage | undefined>,
    readonly concurrency = 4,
  ) {}
  beginCycle(): void {
    this.cycles++;
  }
  async read(target: ResourceTarget): Promise<ContainerUsage | undefined> {
    this.reads.push(target.id);
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    try {
      return await this.answer(target);
    } finally {
      this.inFlight--;
    }
  }
}

function recordingLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const logger = createLogger("debug", (line) => out.push(line), () => 0);
  return { logger, lines: () => out.map((line) => JSON.parse(line)) };
}

function collector(options: Partial<CollectorOptions> & { source?: ResourceSource }): ResourceCollector {
  const source = options.source;
  return new ResourceCollector({
    mode: "cgroup",
    openCgroup: () => source!,
    openApi: () => source!,
    remoteEngine: false,
    targets: () => targets(3),
    intervalMs: 60_000,
    logger: silentLogger,
    now: () => performance.now(),
    ...options,
  });
}

Deno.test("collect() reads every running container with at most `concurrency` reads in flight", async () => {
  const source = new ScriptedSource("api", async (target) => {
    await new Promise((resolve) => setTimeout(resolve, 2));
    return usage(Number(target.id.slice(1)));
  });
  const c = collector({ source, targets: () => targets(20), concurrency: 3 });
  await c.collect();
  assert.equal(source.maxInFlight, 3);
  assert.deepEqual(source.reads.toSorted(), targets(20).map((t) => t.id).toSorted());
  assert.equal(c.usage.size, 20);
  assert.equal(c.usage.get("c7")?.cpu?.totalSeconds, 7);
  assert.equal(c.sourceName, "api");
});

Deno.test("collect() keeps the source's own number of reads in flight: 32 stats requests, one cgroup reader", async () => {
  let inFlight = 0;
  let most = 0;
  const api = apiSource(async () => {
    most = Math.max(most, ++inFlight);
    await new Promise((resolve) => setTimeout(resolve, 5));
    inFlight--;
    return { pids_stats: { current: 1 } };
  });
  const c = collector({ source: api, targets: () => targets(100) });
  await c.collect();
  assert.equal(most, 32);
  assert.equal(c.usage.size, 100);
  const cgroup = new ScriptedSource("cgroup", () => Promise.resolve(usage(1)), 1);
  await collector({ source: cgroup, targets: () => targets(40) }).collect();
  assert.equal(cgroup.maxInFlight, 1);
});

Deno.test("collect() skips a container that vanished mid-collection and keeps the others", async () => {
  const source = new ScriptedSource("cgroup", (target) => Promise.resolve(target.id === "c1" ? undefined : usage(1)));
  const c = collector({ source });
  await c.collect();
  assert.deepEqual([...c.usage.keys()].sort(), ["c0", "c2"]);
  assert.equal(c.errors, 0, "a vanished container is not an error");
});

Deno.test("collect() swaps in the new readings and bumps the generation once, when the collection ends", async () => {
  let value = 1;
  let held: Promise<void> = Promise.resolve();
  const source = new ScriptedSource("api", async () => {
    await held;
    return usage(value);
  });
  const c = collector({ source });
  await c.collect();
  assert.equal(c.generation, 1);

  let release = () => {};
  held = new Promise<void>((resolve) => (release = resolve));
  value = 2;
  const pending = c.collect();
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(c.generation, 1, "no new generation while reads are in flight");
  assert.equal(c.usage.get("c0")?.cpu?.totalSeconds, 1, "the previous collection stays visible meanwhile");
  release();
  await pending;
  assert.equal(c.generation, 2);
  assert.deepEqual([...c.usage.values()].map((u) => u.cpu?.totalSeconds), [2, 2, 2]);
});

Deno.test("collect() counts failed reads and logs once when failures start and once when they stop", async () => {
  let failing = true;
  const source = new ScriptedSource(
    "api",
    (target) =>
      failing && target.id === "c2"
        ? Promise.reject(new Error("Docker answered 500 to stats"))
        : Promise.resolve(usage(1)),
  );
  const { logger, lines } = recordingLogger();
  const c = collector({ source, logger });
  await c.collect();
  await c.collect();
  assert.equal(c.errors, 2);
  assert.deepEqual([...c.usage.keys()].sort(), ["c0", "c1"]);
  failing = false;
  await c.collect();
  assert.equal(c.usage.size, 3);
  const logged = lines().filter((line) => line.level !== "info" || String(line.msg).startsWith("reading"));
  assert.deepEqual(logged.map((line) => [line.level, line.msg, line.id, line.error]), [
    ["warn", "cannot read some containers' resource use", "c2", "Docker answered 500 to stats"],
    ["info", "reading containers' resource use again", undefined, undefined],
  ]);
});

Deno.test("scrapes between collections only render: the source is not read and the values stay the same", async () => {
  let cpu = 1;
  const source = new ScriptedSource("cgroup", () => Promise.resolve(usage(cpu++)));
  const records = targets(3).map((t) => record(t.id, { pid: t.pid }));
  const c = collector({ source, targets: () => resourceTargets(records) });
  const scrape = new ScrapeCache({
    revision: () => `0/0/${c.generation}`,
    stableFamilies: () => [...resourceFamilies(records, c.usage), ...resourceCollectorFamilies(c)],
    liveRevision: () => "",
    liveFamilies: () => [],
  });
  await c.collect();
  const reads = source.reads.length;
  const body = (gzip: boolean) => new TextDecoder().decode(scrape.render("text", gzip).body);
  const first = body(false);
  for (let i = 0; i < 5; i++) body(i % 2 === 0);
  assert.equal(source.reads.length, reads, "a scrape read a container");
  assert.equal(body(false), first);
  assert.match(first, /^container_cpu_usage_seconds_total\{id="c0",name="c0",image="busybox:1",cpu="total"\} 1$/m);
  await c.collect();
  assert.notEqual(body(false), first, "a finished collection shows at the next scrape");
});

Deno.test("run() collects once per interval, never two at once, until the signal aborts", async () => {
  let active = 0;
  let maxActive = 0;
  const source = new ScriptedSource("cgroup", async () => {
    maxActive = Math.max(maxActive, ++active);
    await new Promise((resolve) => setTimeout(resolve, 5));
    active--;
    return usage(1);
  });
  const c = collector({ source, intervalMs: 20, concurrency: 1, targets: () => targets(1) });
  const controller = new AbortController();
  const started = performance.now();
  const running = c.run(controller.signal);
  while (source.cycles < 3) await new Promise((resolve) => setTimeout(resolve, 5));
  const elapsed = performance.now() - started;
  controller.abort();
  await running;
  assert.equal(maxActive, 1);
  // The third collection starts two intervals after the first, never sooner.
  assert.ok(elapsed >= 2 * 20 - 1, `three collections after ${elapsed} ms`);
  const cycles = source.cycles;
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(source.cycles, cycles, "a collection after the abort");
});

Deno.test("run() waits for the first sync before collecting, so the first collection is not empty", async () => {
  let synced = false;
  const source = new ScriptedSource("cgroup", () => Promise.resolve(usage(1)));
  const c = collector({ source, ready: () => synced, intervalMs: 3_600_000 });
  const controller = new AbortController();
  const running = c.run(controller.signal);
  await new Promise((resolve) => setTimeout(resolve, 250));
  assert.equal(source.cycles, 0, "collected before the first sync");
  synced = true;
  while (source.cycles === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  controller.abort();
  await running;
  assert.equal(c.usage.size, 3);
});

function modes(mode: ResourceMode, options: { remote?: boolean; cgroupOpens?: boolean } = {}) {
  const opened: string[] = [];
  const cgroup = new ScriptedSource("cgroup", () => Promise.resolve(usage(1)));
  const api = new ScriptedSource("api", () => Promise.resolve(usage(2)));
  const { logger, lines } = recordingLogger();
  const c = new ResourceCollector({
    mode: mode as Exclude<ResourceMode, "off">,
    openCgroup: () => {
      opened.push("cgroup");
      if (options.cgroupOpens === false) throw new Error("Cannot read the cgroup root /sys/fs/cgroup: denied");
      return cgroup;
    },
    openApi: () => {
      opened.push("api");
      return api;
    },
    remoteEngine: options.remote ?? false,
    targets: () => targets(1),
    intervalMs: 60_000,
    logger,
    now: () => 0,
  });
  return { c, opened, lines };
}

Deno.test("auto uses the cgroup files when they open, else the stats API, and never tries them for a remote engine", async () => {
  const local = modes("auto");
  await local.c.collect();
  assert.deepEqual([local.opened, local.c.sourceName], [["cgroup"], "cgroup"]);

  const denied = modes("auto", { cgroupOpens: false });
  await denied.c.collect();
  await denied.c.collect();
  assert.deepEqual([denied.opened, denied.c.sourceName], [["cgroup", "api"], "api"]);
  assert.equal(denied.c.usage.get("c0")?.cpu?.totalSeconds, 2);
  assert.deepEqual(denied.lines().map((l) => [l.level, l.error]), [
    ["info", "Cannot read the cgroup root /sys/fs/cgroup: denied"],
  ]);

  const remote = modes("auto", { remote: true });
  await remote.c.collect();
  assert.deepEqual([remote.opened, remote.c.sourceName], [["api"], "api"]);
});

Deno.test("cgroup mode never falls back: it collects nothing, counts each container's reading failed, logs once and tries again", async () => {
  const { c, opened, lines } = modes("cgroup", { cgroupOpens: false });
  await c.collect();
  assert.deepEqual([c.errors, c.generation], [1, 1], "the running container's reading failed");
  await c.collect();
  assert.deepEqual(opened, ["cgroup", "cgroup"]);
  assert.deepEqual([c.errors, c.generation], [2, 2], "and failed again, so a scrape shows the count grow");
  assert.equal(c.usage.size, 0);
  assert.equal(c.sourceName, undefined);
  assert.deepEqual(lines().map((l) => [l.level, l.msg]), [
    ["error", "cannot collect resource metrics from cgroup files"],
  ]);
  const api = modes("api");
  await api.c.collect();
  assert.deepEqual(api.opened, ["api"]);
});

Deno.test("auto moves to the stats API after two collections in which the cgroup files hold no running container", async () => {
  let found = false;
  const cgroup = new ScriptedSource("cgroup", () => Promise.resolve(found ? usage(1) : undefined));
  const api = new ScriptedSource("api", () => Promise.resolve(usage(2)));
  const { logger, lines } = recordingLogger();
  const make = () =>
    new ResourceCollector({
      mode: "auto",
      openCgroup: () => cgroup,
      openApi: () => api,
      remoteEngine: false,
      targets: () => targets(2),
      intervalMs: 60_000,
      logger,
      now: () => 0,
    });
  const c = make();
  await c.collect();
  found = true;
  await c.collect();
  found = false;
  await c.collect();
  assert.equal(c.sourceName, "cgroup", "one empty collection at a time is containers that just stopped");
  await c.collect();
  assert.equal(c.sourceName, "api");
  await c.collect();
  assert.equal(c.usage.get("c1")?.cpu?.totalSeconds, 2);
  assert.ok(lines().some((l) => l.level === "warn" && String(l.msg).startsWith("the cgroup files hold none")));
});

function record(id: string, changes: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    id,
    name: id,
    image: "busybox:1",
    imageId: "sha256:0",
    labels: {},
    state: "running",
    createdSeconds: 1,
    startedSeconds: 2,
    finishedSeconds: undefined,
    restartCount: 0,
    exitCode: 0,
    oomKilled: false,
    health: "none",
    failingStreak: 0,
    events: NO_EVENTS,
    ...changes,
  };
}

Deno.test("lastSeen holds the containers each collection read, at its start, and keeps one no longer read for 5 minutes", async () => {
  let nowMs = 1_795_600_000_500;
  let running = ["c0", "c1", "c2"];
  const source = new ScriptedSource("cgroup", (t) => Promise.resolve(running.includes(t.id) ? usage(1) : undefined));
  const all = targets(3);
  const c = collector({ source, targets: () => all.filter((t) => running.includes(t.id)), now: () => nowMs });
  await c.collect();
  assert.deepEqual([...c.lastSeen].map(([id, seen]) => [id, seen.seconds, seen.record]), [
    ["c0", 1_795_600_000, all[0].record],
    ["c1", 1_795_600_000, all[1].record],
    ["c2", 1_795_600_000, all[2].record],
  ]);
  // c1 stops: it keeps the second it was last read; the others move on.
  const before = c.lastSeen;
  running = ["c0", "c2"];
  nowMs += 5_000;
  await c.collect();
  assert.notEqual(c.lastSeen, before, "replaced, not changed");
  assert.deepEqual([...c.lastSeen].map(([id, seen]) => [id, seen.seconds]), [
    ["c0", 1_795_600_005],
    ["c2", 1_795_600_005],
    ["c1", 1_795_600_000],
  ]);
  // Until LAST_SEEN_KEPT_MS after it was last read.
  nowMs = 1_795_600_000_000 + LAST_SEEN_KEPT_MS - 1;
  await c.collect();
  assert.ok(c.lastSeen.has("c1"));
  nowMs = 1_795_600_000_000 + LAST_SEEN_KEPT_MS;
  await c.collect();
  assert.deepEqual([...c.lastSeen.keys()], ["c0", "c2"]);
});

Deno.test("resourceTargets() takes running and paused containers, with their pid or 0", () => {
  const records = [
    record("run", { pid: 10 }),
    record("pause", { state: "paused", pid: 11 }),
    record("nopid"),
    record("exit", { state: "exited" }),
    record("made", { state: "created" }),
    record("again", { state: "restarting" }),
  ];
  assert.deepEqual(resourceTargets(records), [
    { id: "run", pid: 10, record: records[0] },
    { id: "pause", pid: 11, record: records[1] },
    { id: "nopid", pid: 0, record: records[2] },
  ]);
});

Deno.test("recordFromInspect() keeps the pid and limits: --memory, --cpus and --cpu-quota/--cpu-period", () => {
  const inspect = JSON.parse(
    Deno.readTextFileSync(new URL("../../testdata/inspect_running.json", import.meta.url)),
  ) as ContainerInspect;
  const plain = recordFromInspect(inspect);
  assert.deepEqual([plain.pid, plain.memoryLimitBytes, plain.cpuQuotaMicros, plain.cpuPeriodMicros], [
    6833,
    0,
    0,
    100_000,
  ]);
  const cpus = recordFromInspect({ ...inspect, HostConfig: { Memory: 67108864, NanoCpus: 1_500_000_000 } });
  assert.deepEqual([cpus.memoryLimitBytes, cpus.cpuQuotaMicros, cpus.cpuPeriodMicros], [67108864, 150_000, 100_000]);
  const quota = recordFromInspect({ ...inspect, HostConfig: { CpuQuota: 25_000, CpuPeriod: 50_000 } });
  assert.deepEqual([quota.cpuQuotaMicros, quota.cpuPeriodMicros], [25_000, 50_000]);
  const stopped = recordFromInspect({ ...inspect, HostConfig: null, State: { ...inspect.State, Pid: 0 } });
  assert.deepEqual([stopped.pid, stopped.memoryLimitBytes, stopped.cpuQuotaMicros], [0, 0, 0]);
});

Deno.test("recordFromInspect() keeps the CPU shares, memory reservation and swap limit, with cAdvisor's defaults", () => {
  const inspect = JSON.parse(
    Deno.readTextFileSync(new URL("../../testdata/inspect_running.json", import.meta.url)),
  ) as ContainerInspect;
  const spec = (r: ContainerRecord) => [r.cpuShares, r.memoryReservationBytes, r.memorySwapLimitBytes];
  // Nothing set: the kernel's 1024 shares, no reservation, no swap limit.
  assert.deepEqual(spec(recordFromInspect(inspect)), [1024, 0, 0]);
  // `--cpu-shares 512 --memory 64m --memory-reservation 32m`, as the engine fills in --memory-swap (twice --memory).
  const limited = recordFromInspect({
    ...inspect,
    HostConfig: { CpuShares: 512, Memory: 67108864, MemoryReservation: 33554432, MemorySwap: 134217728 },
  });
  assert.deepEqual(spec(limited), [512, 33554432, 134217728]);
  // `--memory-swap -1`: unlimited swap, which cAdvisor reports as 0.
  assert.deepEqual(spec(recordFromInspect({ ...inspect, HostConfig: { Memory: 67108864, MemorySwap: -1 } })), [
    1024,
    0,
    0,
  ]);
});

Deno.test("usageFromStats() converts a real one-shot stats answer from a cgroup v1 engine", () => {
  const stats = JSON.parse(
    Deno.readTextFileSync(new URL("../../testdata/stats_v1_oneshot.json", import.meta.url)),
  ) as ContainerStats;
  assert.deepEqual(usageFromStats(stats, new Map([["254:0", "vda"]])), {
    cpu: {
      totalSeconds: 0.459286605,
      userSeconds: 0.45,
      systemSeconds: 0,
      periods: 12,
      throttledPeriods: 8,
      throttledSeconds: 0.400995303,
    },
    // The engine leaves failcnt out while it is 0, and total_swap without swap accounting.
    memory: {
      usageBytes: 8867840,
      workingSetBytes: 8867840 - 3407872,
      rssBytes: 114688,
      cacheBytes: 8392704,
      failcnt: 0,
      maxUsageBytes: 9216000,
      mappedFileBytes: 0,
      activeFileBytes: 4984832,
      inactiveFileBytes: 3407872,
      dirtyBytes: 0,
      writebackBytes: 0,
      pageFaults: 1465,
      majorPageFaults: 0,
    },
    network: [],
    blockIo: [{
      device: "/dev/vda",
      major: 254,
      minor: 0,
      readBytes: 8388608,
      writeBytes: 8388608,
      reads: 6,
      writes: 16,
      bytesByOperation: { Read: 8388608, Write: 8388608, Sync: 16777216, Async: 0, Discard: 0, Total: 16777216 },
    }],
    tasks: 2,
    tasksLimit: 50,
  });
});

Deno.test("usageFromStats() reads a cgroup v2 engine's answer: v2 memory keys, lowercase ops, networks", () => {
  const stats: ContainerStats = {
    cpu_stats: {
      cpu_usage: { total_usage: 2_500_000_000, usage_in_usermode: 2_000_000_000, usage_in_kernelmode: 500_000_000 },
      throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
    },
    memory_stats: {
      usage: 10_000_000,
      limit: 2 ** 34,
      stats: { anon: 6_000_000, file: 3_000_000, inactive_file: 1_000_000, kernel: 400_000, pgfault: 77, pgscan: 5 },
    },
    networks: {
      eth0: {
        rx_bytes: 10,
        rx_packets: 1,
        rx_errors: 0,
        rx_dropped: 0,
        tx_bytes: 20,
        tx_packets: 2,
        tx_errors: 0,
        tx_dropped: 1,
      },
    },
    blkio_stats: {
      io_service_bytes_recursive: [
        { major: 8, minor: 0, op: "read", value: 4096 },
        { major: 8, minor: 0, op: "write", value: 8192 },
      ],
      io_serviced_recursive: null,
    },
    pids_stats: { current: 4 },
  };
  assert.deepEqual(usageFromStats(stats), {
    cpu: {
      totalSeconds: 2.5,
      userSeconds: 2,
      systemSeconds: 0.5,
      periods: 0,
      throttledPeriods: 0,
      throttledSeconds: 0,
    },
    memory: {
      usageBytes: 10_000_000,
      workingSetBytes: 9_000_000,
      rssBytes: 6_000_000,
      cacheBytes: 3_000_000,
      // The memory.stat keys the answer has, and none it lacks.
      inactiveFileBytes: 1_000_000,
      kernelBytes: 400_000,
      pageFaults: 77,
      pagesScanned: 5,
    },
    network: [{
      interface: "eth0",
      receiveBytes: 10,
      receivePackets: 1,
      receiveErrors: 0,
      receiveDropped: 0,
      transmitBytes: 20,
      transmitPackets: 2,
      transmitErrors: 0,
      transmitDropped: 1,
    }],
    // A v2 engine leaves io_serviced_recursive null: the operation counts are unknown, not 0.
    // cAdvisor's operation names: Read and Write.
    blockIo: [{
      device: "8:0",
      major: 8,
      minor: 0,
      readBytes: 4096,
      writeBytes: 8192,
      bytesByOperation: { Read: 4096, Write: 8192 },
    }],
    tasks: 4,
    tasksLimit: 0,
  });
});

Deno.test("apiSource() reads through the stats call and treats a 404 (undefined) as a vanished container", async () => {
  const asked: string[] = [];
  const source = apiSource((id) => {
    asked.push(id);
    // What dockerd 20.10 answers for a container that is not running: zeros, read at its zero time.
    const stopped = { read: "0001-01-01T00:00:00Z", cpu_stats: { cpu_usage: { total_usage: 0 } }, pids_stats: {} };
    // A `read` that is no time string is no reason to refuse the reading.
    const odd = { read: 12 as unknown as string, pids_stats: { current: 3, limit: 0 } };
    return Promise.resolve(
      id === "gone"
        ? undefined
        : id === "stopped"
        ? stopped
        : id === "odd"
        ? odd
        : { read: "2026-11-26T14:50:00.1Z", pids_stats: { current: 3, limit: 0 } },
    );
  });
  assert.equal(source.name, "api");
  assert.deepEqual(await source.read(target("a")), { network: [], blockIo: [], tasks: 3, tasksLimit: 0 });
  assert.equal(await source.read(target("gone")), undefined);
  assert.equal(await source.read(target("stopped")), undefined, "stopped: no reading, not counters at 0");
  assert.deepEqual(await source.read(target("odd")), { network: [], blockIo: [], tasks: 3, tasksLimit: 0 });
  assert.deepEqual(asked, ["a", "gone", "stopped", "odd"]);
});

Deno.test("unset, the interval follows the source: 5 s on cgroup files, 15 s on the stats API; set, it is kept", async () => {
  const cgroup = new ScriptedSource("cgroup", () => Promise.resolve(usage(1)));
  const api = new ScriptedSource("api", () => Promise.resolve(usage(1)));
  const onFiles = collector({ source: cgroup, intervalMs: undefined });
  await onFiles.collect();
  assert.equal(onFiles.intervalMs, 5_000);
  const onApi = collector({ source: api, mode: "api", intervalMs: undefined });
  await onApi.collect();
  assert.equal(onApi.intervalMs, 15_000);
  const set = collector({ source: cgroup, intervalMs: 30_000 });
  await set.collect();
  assert.equal(set.intervalMs, 30_000);
});
