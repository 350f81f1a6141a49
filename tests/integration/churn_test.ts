/**
 * Churn soak: containers created, started, stopped and destroyed over and over, with the exporter running as
 * a subprocess (the start task's permissions) so that its memory is a real process's.
 *
 * - 10,000 create/start/die/destroy cycles on the scripted fake engine, in waves of 500, after a warm-up of
 *   another 10,000: the exporter must follow every state, end with no series for any destroyed container, and
 *   settle back to within 5 MiB of the resident memory it settled at after the warm-up.
 * - 500 real `docker run --rm --network none` lifecycles (DOCKER_EXPORTER_CHURN_REAL changes the count), after a
 *   warm-up of 200, with the same checks. They run on a private dockerd (tests/support/private_dockerd.ts), so
 *   that other tests' containers on the shared engine neither add to the exporter's memory nor see this churn.
 *
 * Why a warm-up as long as the soak: the live V8 heap is back to the same size after every wave (13.6 to 14.8 MiB
 * over 26,000 cycles), but the C heap under it keeps a high-water mark that climbs for the first ten thousand
 * or so cycles and then holds. Settled RSS after 1k, 6k, 11k, 16k, 21k and 26k cycles measured 100.7, 106.0,
 * 114.0, 115.9, 114.1 and 115.6 MiB, all of the growth in the brk heap (15.2 to 28.9 MiB in /proc/<pid>/smaps).
 * The exporter also runs with MALLOC_ARENA_MAX=2: with glibc's default of up to eight arenas per core, which
 * thread happens to free what moved the settled RSS by several MiB from run to run.
 *
 * Memory is read after a settle: the destroyed containers' tombstones expire (stale period 3 s), then V8 is
 * asked, through its inspector on 127.0.0.1, to collect all garbage and give back what it can (as on a low-memory
 * notification); RSS comes from /proc/<pid>/status and the live heap from the inspector. Without that, RSS
 * depends on when V8's memory reducer last ran (some 25 s after the process goes quiet). The live heap must
 * also come back to within 2 MiB. Set DOCKER_EXPORTER_TEST_REPORT=1 to print the figures.
 */
import assert from "node:assert/strict";
import { type BenchExporter, startBenchExporter } from "../../bench/support.ts";
import { ContainerScope, runCommand, waitFor } from "../support/docker.ts";
import { findSamples, freePort, parseSamples, sampleValue } from "../support/exporter.ts";
import { containerEvent, fakeContainer, FakeEngine } from "../support/fake_engine.ts";
import { PrivateDaemon, privateDaemonUnavailable } from "../support/private_dockerd.ts";

const noDaemon = await privateDaemonUnavailable();
if (noDaemon) console.warn(`churn_test.ts: ignoring its real-engine test: ${noDaemon}`);
const REPORT = Deno.env.get("DOCKER_EXPORTER_TEST_REPORT") === "1";
const REAL_LIFECYCLES = Number(Deno.env.get("DOCKER_EXPORTER_CHURN_REAL") ?? 500);
const REAL_WARM_UP = 200;
/** How far RSS may end above where it settled after the warm-up. */
const RSS_SLACK_MIB = 5;
/** How far the live V8 heap may end above where it was after the warm-up. */
const HEAP_SLACK_MIB = 2;
/** Tombstones of destroyed containers live as long as the stale period; short, so the settle sees them go. */
const STALE_AFTER = "3s";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The V8 inspector of the exporter process, on 127.0.0.1, to force a full garbage collection before reading RSS. */
class Inspector implements Disposable {
  #socket: WebSocket;
  #next = 0;
  #pending = new Map<number, (result: Record<string, unknown>) => void>();

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      this.#pending.get(message.id)?.(message.result);
      this.#pending.delete(message.id);
    };
  }

  /** Connects to the inspector that `--inspect=127.0.0.1:<port>` opened. */
  static async connect(port: number): Promise<Inspector> {
    const [target] = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
    const socket = new WebSocket(target.webSocketDebuggerUrl);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = reject;
    });
    return new Inspector(socket);
  }

  call(method: string): Promise<Record<string, unknown>> {
    const id = ++this.#next;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#socket.send(JSON.stringify({ id, method }));
    });
  }

  [Symbol.dispose](): void {
    this.#socket.close();
  }
}

/**
 * The resident memory of process `pid` now and at its peak, in MiB, from /proc/<pid>/status read by `cat`:
 * Deno lets only --allow-all read another process's /proc, and the test task does not grant it.
 */
async function memoryOf(pid: number): Promise<{ rssMiB: number; peakMiB: number }> {
  const status = await runCommand("cat", [`/proc/${pid}/status`]);
  const mib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1]) / 1024;
  return { rssMiB: mib("VmRSS"), peakMiB: mib("VmHWM") };
}

/** The exporter's memory once its garbage is gone: resident set and live V8 heap, in MiB. */
interface Settled {
  rssMiB: number;
  heapMiB: number;
}

/**
 * Waits for the destroyed containers' tombstones to expire, has V8 collect all garbage and give back what it
 * can (what it does on a low-memory notification), and reads the memory.
 */
async function settle(exporter: BenchExporter, inspector: Inspector): Promise<Settled> {
  await sleep(3500);
  await inspector.call("HeapProfiler.collectGarbage");
  await sleep(500);
  const { usedSize } = await inspector.call("Runtime.getHeapUsage");
  return { rssMiB: (await memoryOf(exporter.pid)).rssMiB, heapMiB: (usedSize as number) / 1024 / 1024 };
}

/** The ids with a `docker_container_info` series. */
async function trackedIds(exporter: BenchExporter): Promise<Set<string>> {
  return new Set(findSamples(parseSamples(await exporter.scrape()), "docker_container_info").map((s) => s.labels.id));
}

/** How many fake-engine waves of 500 cycles warm up; the soak is 20 more (10,000 cycles). */
const WARM_UP_WAVES = 20;

/** Starts the exporter with its V8 inspector on 127.0.0.1, and connects to the inspector. */
async function startInspectable(socket: string): Promise<{ exporter: BenchExporter; inspector: Inspector }> {
  const inspectorPort = freePort();
  const exporter = await startBenchExporter({
    socket,
    env: { EXPORTER_REFRESH_INTERVAL: "2s", EXPORTER_STALE_AFTER: STALE_AFTER, MALLOC_ARENA_MAX: "2" },
    denoFlags: [`--inspect=127.0.0.1:${inspectorPort}`],
    readyTimeoutMs: 20_000,
  });
  try {
    return { exporter, inspector: await Inspector.connect(inspectorPort) };
  } catch (error) {
    await exporter.stop();
    throw error;
  }
}

function assertSettledBack(warm: Settled, after: Settled): void {
  assert.ok(
    after.rssMiB - warm.rssMiB < RSS_SLACK_MIB,
    `RSS ${after.rssMiB.toFixed(1)} MiB after the soak, ${warm.rssMiB.toFixed(1)} MiB after the warm-up`,
  );
  // The live V8 heap is the sharper test for a leak in the exporter's own code: it may grow only by compiled code.
  assert.ok(
    after.heapMiB - warm.heapMiB < HEAP_SLACK_MIB,
    `V8 heap ${after.heapMiB.toFixed(1)} MiB after the soak, ${warm.heapMiB.toFixed(1)} MiB after the warm-up`,
  );
}

const describe = (settled: Settled) =>
  `RSS ${settled.rssMiB.toFixed(1)} MiB (V8 heap ${settled.heapMiB.toFixed(1)} MiB)`;

Deno.test("10,000 create/start/die/destroy cycles on the fake engine leave no series and no memory behind", async () => {
  const WAVE = 500;
  const engine = await FakeEngine.start();
  const base = ["b0", "b1", "b2"].map((prefix, i) => engine.add(fakeContainer(prefix.repeat(32), `base-${i}`)).Id);
  const { exporter, inspector } = await startInspectable(engine.path);
  try {
    await engine.waitForEventStreams();
    let serial = 0;
    const counted = async (state: string) =>
      findSamples(parseSamples(await exporter.scrape()), "docker_container_state", { state })
        .filter((s) => s.value === 1 && !base.includes(s.labels.id)).length;

    /** One wave: WAVE containers are created and started, then die, then are destroyed; each step is awaited. */
    const wave = async () => {
      const ids = Array.from({ length: WAVE }, () => (++serial).toString(16).padStart(12, "0").repeat(6).slice(0, 64));
      const now = Date.now();
      for (const id of ids) {
        engine.add(fakeContainer(id, `churn-${id.slice(0, 12)}`, { StartedAt: new Date(now).toISOString() }));
      }
      await engine.sendEvents(ids.flatMap((id) => [containerEvent(id, "create"), containerEvent(id, "start")]));
      await waitFor(async () => (await counted("running")) === WAVE, 30_000, "a wave running", 100);
      for (const id of ids) {
        const c = engine.containers.get(id)!;
        c.State = { ...c.State, Status: "exited", ExitCode: 0, FinishedAt: new Date(now + 1000).toISOString() };
      }
      await engine.sendEvents(ids.map((id) => containerEvent(id, "die", { exitCode: "0" })));
      await waitFor(async () => (await counted("exited")) === WAVE, 30_000, "a wave exited", 100);
      for (const id of ids) engine.containers.delete(id);
      await engine.sendEvents(ids.map((id) => containerEvent(id, "destroy")));
      await waitFor(async () => (await trackedIds(exporter)).size === base.length, 30_000, "a wave destroyed", 100);
      // The engine's request log would otherwise grow in this process for the whole soak.
      engine.requests.length = 0;
    };

    const started = performance.now();
    for (let i = 0; i < WARM_UP_WAVES; i++) await wave();
    const warm = await settle(exporter, inspector);
    const soakStarted = performance.now();
    for (let i = 0; i < 20; i++) await wave();
    const soakSeconds = (performance.now() - soakStarted) / 1000;
    const after = await settle(exporter, inspector);

    const samples = parseSamples(await exporter.scrape());
    assert.equal(serial, (WARM_UP_WAVES + 20) * WAVE);
    assert.deepEqual([...await trackedIds(exporter)].sort(), [...base].sort(), "only the base containers are left");
    assert.equal(sampleValue(samples, "docker_exporter_containers_tracked"), base.length);
    assert.equal(sampleValue(samples, "docker_exporter_events_total", { action: "destroy" }), serial);
    assert.equal(sampleValue(samples, "docker_exporter_events_total", { action: "create" }), serial);
    assert.deepEqual(findSamples(samples, "docker_exporter_engine_api_errors_total"), []);
    assert.equal(sampleValue(samples, "docker_up"), 1);
    if (REPORT) {
      console.log(
        `fake engine: 10,000 cycles in ${soakSeconds.toFixed(1)} s (${(10_000 / soakSeconds).toFixed(0)}/s) after ` +
          `${WARM_UP_WAVES * WAVE} of warm-up (${((soakStarted - started) / 1000).toFixed(1)} s); settled after ` +
          `the warm-up: ${describe(warm)}, after the soak: ${describe(after)}; peak RSS ${
            (await memoryOf(exporter.pid)).peakMiB.toFixed(1)
          } MiB`,
      );
    }
    assertSettledBack(warm, after);
  } finally {
    inspector[Symbol.dispose]();
    await exporter.stop();
    engine.stop();
  }
});

Deno.test({
  name: `${REAL_LIFECYCLES} real container lifecycles leave no series and no memory behind`,
  ignore: noDaemon !== undefined,
  fn: async () => {
    await using daemon = await PrivateDaemon.create();
    await daemon.start();
    const tag = await daemon.engine.ensureImage();
    // No cleanup of its own: disposing of the private daemon removes every container it has.
    const scope = new ContainerScope("churn", daemon.engine);
    const { exporter, inspector } = await startInspectable(daemon.socket);
    try {
      const seen = new Set<string>();
      let serial = 0;
      /** `count` containers, each `docker run --rm`: created, started, exited at once, and removed. */
      const lifecycles = async (count: number) => {
        let next = 0;
        await Promise.all(Array.from({ length: 8 }, async () => {
          while (next < count) {
            next++;
            const name = scope.nameFor(String(++serial));
            await daemon.engine.cli("run", "--rm", "--network", "none", "--name", name, tag, "true");
            seen.add(name);
          }
        }));
      };
      /** Our containers' series: none once every `docker run --rm` has returned and its destroy been followed. */
      const ours = async () =>
        findSamples(parseSamples(await exporter.scrape()), "docker_container_info").filter((s) =>
          s.labels.name.startsWith(scope.prefix)
        );

      await lifecycles(REAL_WARM_UP);
      await waitFor(async () => (await ours()).length === 0, 15_000, "the warm-up containers' series to go");
      const warm = await settle(exporter, inspector);
      const started = performance.now();
      await lifecycles(REAL_LIFECYCLES);
      const seconds = (performance.now() - started) / 1000;
      await waitFor(async () => (await ours()).length === 0, 15_000, "the soak containers' series to go");
      const after = await settle(exporter, inspector);

      assert.equal(seen.size, REAL_WARM_UP + REAL_LIFECYCLES);
      assert.deepEqual(await ours(), []);
      assert.equal(await daemon.engine.cli("ps", "--all", "--quiet"), "", "the daemon has no container left");
      const samples = parseSamples(await exporter.scrape());
      // Each container's destroy was followed, and nothing failed.
      assert.equal(sampleValue(samples, "docker_exporter_events_total", { action: "destroy" }), seen.size);
      assert.deepEqual(findSamples(samples, "docker_exporter_engine_api_errors_total"), []);
      assert.equal(sampleValue(samples, "docker_up"), 1);
      assert.equal(sampleValue(samples, "docker_exporter_containers_tracked"), 0);
      if (REPORT) {
        console.log(
          `real engine: ${REAL_LIFECYCLES} lifecycles in ${seconds.toFixed(1)} s after ${REAL_WARM_UP} of warm-up; ` +
            `settled after the warm-up: ${describe(warm)}, after the soak: ${describe(after)}; peak RSS ${
              (await memoryOf(exporter.pid)).peakMiB.toFixed(1)
            } MiB`,
        );
      }
      assertSettledBack(warm, after);
    } finally {
      inspector[Symbol.dispose]();
      await exporter.stop();
    }
  },
});
