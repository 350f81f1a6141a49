/**
 * More faults a real dockerd cannot produce on demand, on the scripted fake engine
 * (tests/support/fake_engine.ts), beyond tests/integration/faults_test.ts: HTTP 404 and 500 from version,
 * info and list; answers that are not what the endpoint returns, or are cut short; 50 MB answers; a container
 * that vanishes between list and inspect; events out of order, for unknown ids, and with ids that are not ids.
 * After each one the exporter must serve correct metrics, have counted the error, and still run.
 *
 * Most tests wire the exporter in this process exactly as main.ts does, minus the listening socket. The 50 MB
 * test runs it as a subprocess with the start task's permissions, so that its memory is a real process's.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../lib/config/settings.ts";
import { FOLLOWED_ACTIONS } from "../../lib/docker/events.ts";
import { eventEffect } from "../../lib/engine/event_effects.ts";
import { buildExporter, type Exporter } from "../../lib/exporter.ts";
import type { Logger } from "../../lib/shared/logger.ts";
import { loadDockerode } from "../../lib/docker/dockerode.ts";
import { startBenchExporter } from "../../bench/support.ts";
import { runCommand, waitFor } from "../support/docker.ts";
import { findSamples, type ParsedSample, parseSamples, sampleValue } from "../support/exporter.ts";
import { containerEvent, type FakeAnswer, fakeContainer, FakeEngine } from "../support/fake_engine.ts";

/** Set DOCKER_EXPORTER_TEST_REPORT=1 to print the figures the 50 MB test measures. */
const REPORT = Deno.env.get("DOCKER_EXPORTER_TEST_REPORT") === "1";

interface Harness {
  exporter: Exporter;
  /** Log lines, with the message of the `error` field when there was one. */
  logs: { level: string; msg: string; error?: string }[];
  /** Scrapes through the handler; asserts a 200 answer and returns the parsed samples. */
  samples(): Promise<ParsedSample[]>;
  /** `docker_exporter_engine_api_errors_total` for `operation`, 0 when absent. */
  apiErrors(operation: string): Promise<number>;
  stop(): Promise<void>;
}

/** dockerode, loaded once for every harness in this file. */
const Docker = await loadDockerode();

function startExporter(engine: FakeEngine, env: Record<string, string> = {}, dockerCallTimeoutMs = 500): Harness {
  const command = parseConfig([], (name) =>
    ({
      DOCKER_HOST: engine.url,
      ...env,
    })[name]);
  assert.equal(command.kind, "run");
  // Unless a test sets its own, a refresh and stale period shorter than a user may set, to keep the tests short.
  const config = env.EXPORTER_REFRESH_INTERVAL === undefined
    ? { ...command.config, refreshIntervalMs: 200, staleAfterMs: 5000 }
    : command.config;
  const logs: Harness["logs"] = [];
  const record = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
    logs.push({ level, msg, error: fields?.error instanceof Error ? fields.error.message : undefined });
  const logger: Logger = { debug: record("debug"), info: record("info"), warn: record("warn"), error: record("error") };
  const controller = new AbortController();
  const exporter = buildExporter(config, {
    logger,
    now: Date.now,
    readProcess: () => ({ residentMemoryBytes: 1, cpuSeconds: 1, startTimeSeconds: 1, openFds: 1, maxFds: 2 }),
    signal: controller.signal,
    dockerCallTimeoutMs,
    Docker,
  });
  const running = exporter.run();
  const samples = async () => {
    const response = await exporter.handler(new Request("http://localhost/metrics"));
    const text = await response.text();
    assert.equal(response.status, 200, `/metrics answered ${response.status}: ${text}`);
    return parseSamples(text);
  };
  let stopped = false;
  return {
    exporter,
    logs,
    samples,
    async apiErrors(operation) {
      return sampleValue(await samples(), "docker_exporter_engine_api_errors_total", { operation }) ?? 0;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      controller.abort();
      await running;
    },
  };
}

const A = "a".repeat(64);
const B = "b".repeat(64);
const C = "c".repeat(64);
const X = "e".repeat(64);

/** The ids that have a `docker_container_info` series, sorted. */
function containerIds(samples: readonly ParsedSample[]): string[] {
  return findSamples(samples, "docker_container_info").map((s) => s.labels.id).sort();
}

/** Whether `id`'s container shows `state` (1 on `docker_container_state{state=...}`). */
function inState(samples: readonly ParsedSample[], id: string, state: string): boolean {
  return sampleValue(samples, "docker_container_state", { id, state }) === 1;
}

/** The list entry dockerd would send for a fake container. */
function summaryOf(id: string, name: string, state = "running") {
  return { Id: id, Names: [`/${name}`], State: state, Status: "Up" };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` every 20 ms until it returns something truthy, and returns that. Unlike `waitFor`, an assertion
 * that fails inside the probe fails the test at once: probes here check invariants on every scrape.
 */
async function until<T>(probe: () => Promise<T | false | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const result = await probe();
    if (result) return result;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

Deno.test("HTTP 500 and 404 from version and info are counted per operation, and the next attempt connects", async () => {
  const engine = await FakeEngine.start();
  engine.add(fakeContainer(A, "aaaa"));
  engine.overrides.set("version", [{ status: 500, body: { message: "version boom" } }]);
  engine.overrides.set("info", [
    { status: 404, body: { message: "page not found" } },
    { status: 500, body: { message: "info boom" } },
  ]);
  const harness = startExporter(engine);
  try {
    // A refresh may list containers between a failed info and the next attempt, so wait for all of it.
    const samples = await waitFor(
      async () => {
        const samples = await harness.samples();
        return inState(samples, A, "running") &&
          sampleValue(samples, "docker_exporter_engine_api_errors_total", { operation: "info" }) === 2 &&
          engine.openEventStreams === 1 && samples;
      },
      10_000,
      "the container, both info errors and an open event stream",
    );
    assert.equal(sampleValue(samples, "docker_exporter_engine_api_errors_total", { operation: "version" }), 1);
    assert.equal(sampleValue(samples, "docker_exporter_engine_api_errors_total", { operation: "info" }), 2);
    assert.equal(sampleValue(samples, "docker_exporter_engine_api_errors_total", { operation: "list" }), undefined);
    assert.equal(sampleValue(samples, "docker_up"), 1);
    assert.equal(sampleValue(samples, "server_hostname", { hostname: "fake-host" }), 1);
    const ready = await harness.exporter.handler(new Request("http://localhost/readyz"));
    assert.equal(ready.status, 200);
    await ready.body?.cancel();
    // An engine that answers with an error is not unreachable.
    assert.deepEqual(harness.logs.filter((l) => l.msg.startsWith("Docker is unreachable")), []);
    assert.equal(harness.logs.filter((l) => l.level === "warn" && l.msg === "Docker returned an error").length, 3);
  } finally {
    await harness.stop();
    engine.stop();
  }
});

Deno.test("HTTP 404 and 500 from the list after sync keep every known container, and the retry finds new ones", async () => {
  const engine = await FakeEngine.start();
  engine.add(fakeContainer(A, "aaaa"));
  const harness = startExporter(engine);
  try {
    await waitFor(async () => inState(await harness.samples(), A, "running"), 5000, "the first sync");
    engine.overrides.set("list", [
      { status: 404, body: { message: "page not found" } },
      { status: 500, body: { message: "list boom" } },
    ]);
    engine.add(fakeContainer(B, "bbbb"));
    // B comes only from a list that succeeds; until then every scrape still shows A, and the engine as up.
    await until(
      async () => {
        const samples = await harness.samples();
        assert.ok(inState(samples, A, "running"), "A disappeared while the list failed");
        assert.equal(sampleValue(samples, "docker_up"), 1);
        return inState(samples, B, "running");
      },
      5000,
      "B after the failed lists",
    );
    assert.equal(await harness.apiErrors("list"), 2);
    assert.deepEqual(containerIds(await harness.samples()), [A, B]);
  } finally {
    await harness.stop();
    engine.stop();
  }
});

const validList = JSON.stringify([summaryOf(A, "aaaa")]);
/**
 * `answered`: the engine sent a whole answer, or one the exporter refused before its end (so it is up); else the call
 * timed out waiting for the rest. `callTimeoutMs`: the engine calls' timeout, when the harness's 500 ms is too short
 * to tell a refusal from a timeout.
 */
const badLists: { name: string; answer: FakeAnswer; error: string; answered: boolean; callTimeoutMs?: number }[] = [
  {
    name: "text that is not JSON",
    answer: { status: 200, raw: "<html>proxy error</html>" },
    error: "not a JSON array",
    answered: true,
  },
  {
    name: "a JSON object",
    answer: { status: 200, body: { message: "not a list" } },
    error: "not a JSON array",
    answered: true,
  },
  { name: "JSON null", answer: { status: 200, body: null }, error: "not a JSON array", answered: true },
  {
    name: "an array with an entry without Id",
    answer: { status: 200, body: [summaryOf(A, "aaaa"), { Names: ["/ghost"] }] },
    error: "an entry without an Id",
    answered: true,
  },
  {
    name: "a body cut short",
    answer: { status: 200, raw: validList, cutAfter: validList.length - 5 },
    error: "Docker closed the connection 5 bytes before the end of its answer",
    answered: false,
  },
  {
    name: "an array that never ends",
    answer: { status: 200, endless: { start: `[${JSON.stringify(summaryOf(A, "aaaa"))},`, repeat: '{"Id":"x"},' } },
    error: "more than 100000 entries",
    answered: true,
    callTimeoutMs: 10_000,
  },
];

for (const bad of badLists) {
  Deno.test(`a list answer that is ${bad.name} is counted as a list error and drops no container`, async () => {
    const engine = await FakeEngine.start();
    engine.add(fakeContainer(A, "aaaa"));
    const harness = startExporter(engine, {}, bad.callTimeoutMs);
    try {
      await waitFor(async () => inState(await harness.samples(), A, "running"), 5000, "the first sync");
      engine.overrides.set("list", [bad.answer]);
      await until(
        async () => {
          const samples = await harness.samples();
          assert.ok(inState(samples, A, "running"), "A disappeared after the bad list");
          if (bad.answered) assert.equal(sampleValue(samples, "docker_up"), 1, "an engine that answers is up");
          return sampleValue(samples, "docker_exporter_engine_api_errors_total", { operation: "list" }) === 1;
        },
        5000,
        "the bad list to be counted",
      );
      // Two more refreshes succeed and change nothing.
      const listsSoFar = engine.requests.filter((r) => r.path.includes("/containers/json")).length;
      await waitFor(
        () => engine.requests.filter((r) => r.path.includes("/containers/json")).length >= listsSoFar + 2,
        5000,
        "two more lists",
      );
      const samples = await harness.samples();
      assert.deepEqual(containerIds(samples), [A]);
      assert.equal(sampleValue(samples, "docker_exporter_engine_api_errors_total", { operation: "list" }), 1);
      assert.equal(
        sampleValue(samples, "docker_exporter_engine_api_errors_total", { operation: "unknown" }),
        undefined,
      );
      assert.deepEqual(
        engine.requests.filter((r) => /\/containers\/[^/]+\/json/.test(r.path) && !r.path.includes(A)),
        [],
        "nothing but A was inspected",
      );
      // A whole answer is an error the engine returned; a cut one means the engine did not answer in time.
      const [level, msg] = bad.answered
        ? ["warn", "Docker returned an error"]
        : ["error", "Docker is unreachable; retrying"];
      const logged = harness.logs.filter((l) => l.level !== "debug" && l.level !== "info");
      assert.deepEqual(logged.map((l) => [l.level, l.msg]), [[level, msg]]);
      assert.ok(logged[0].error?.includes(bad.error), `the log line says ${JSON.stringify(logged[0].error)}`);
      assert.equal(sampleValue(await harness.samples(), "docker_up"), 1);
    } finally {
      await harness.stop();
      engine.stop();
    }
  });
}

const goodA = fakeContainer(A, "aaaa");
const badInspects: { name: string; answer: FakeAnswer }[] = [
  { name: "text that is not JSON", answer: { status: 200, raw: "<html>proxy error</html>" } },
  { name: "JSON null", answer: { status: 200, body: null } },
  { name: "a JSON string", answer: { status: 200, body: "running" } },
  { name: "an object with a numeric Id", answer: { status: 200, body: { ...goodA, Id: 5 } } },
  { name: "a numeric Name", answer: { status: 200, body: { ...goodA, Name: 7 } } },
  {
    name: "a label that is not a string",
    answer: {
      status: 200,
      body: { ...goodA, Config: { Image: "busybox:test", Labels: { "com.docker.compose.project": 1 } } },
    },
  },
  { name: "a State that is a string", answer: { status: 200, body: { ...goodA, State: "running" } } },
  {
    name: "a body cut short",
    answer: { status: 200, raw: JSON.stringify(goodA), cutAfter: 40 },
  },
];

for (const bad of badInspects) {
  Deno.test(`an inspect answer that is ${bad.name} is counted, /metrics keeps answering, and the retry brings the container`, async () => {
    const engine = await FakeEngine.start();
    engine.add(fakeContainer(A, "aaaa"));
    engine.overrides.set("inspect", [bad.answer]);
    const harness = startExporter(engine);
    try {
      // harness.samples() asserts every scrape answers 200 and parses.
      await waitFor(async () => inState(await harness.samples(), A, "running"), 5000, "A after the bad inspect");
      const samples = await harness.samples();
      assert.equal(sampleValue(samples, "docker_exporter_engine_api_errors_total", { operation: "inspect" }), 1);
      assert.deepEqual(containerIds(samples), [A]);
      assert.equal(sampleValue(samples, "docker_container_info", { id: A })!, 1);
      assert.deepEqual(findSamples(samples, "docker_container_info", { id: A }).map((s) => s.labels), [{
        id: A,
        name: "aaaa",
        image: "busybox:test",
        image_id: goodA.Image,
        compose_project: "",
        compose_service: "",
      }]);
      assert.equal(sampleValue(samples, "docker_up"), 1);
    } finally {
      await harness.stop();
      engine.stop();
    }
  });
}

Deno.test("a container's labels that no family exports are not kept, and a selected one over 4,096 characters is cut", async () => {
  const engine = await FakeEngine.start();
  const labelled = fakeContainer(B, "bbbb");
  labelled.Config.Labels = {
    "com.docker.compose.project": "shop",
    "io.podman.compose.version": "1.2.0",
    "com.example.blob": "x".repeat(16 << 20),
    "team": "t".repeat(10_000),
    "unselected": "u",
  };
  engine.add(labelled);
  const harness = startExporter(engine, { EXPORTER_CONTAINER_LABELS: "team" });
  try {
    const samples = await waitFor(
      async () => {
        const samples = await harness.samples();
        return inState(samples, B, "running") && samples;
      },
      10_000,
      "the labelled container",
    );
    assert.deepEqual(harness.exporter.registry.get(B)?.labels, {
      "com.docker.compose.project": "shop",
      "io.podman.compose.version": "1.2.0",
      "team": "t".repeat(4096),
    });
    const [info] = findSamples(samples, "docker_container_info", { id: B });
    assert.equal(info.labels.container_label_team, "t".repeat(4096));
    assert.equal(info.labels.compose_project, "shop");
  } finally {
    await harness.stop();
    engine.stop();
  }
});

Deno.test("an answer a kept connection receives after its own is never taken for the next: no record is filed under another container", async () => {
  const engine = await FakeEngine.start();
  engine.keepAlive = true;
  engine.add(fakeContainer(A, "aaaa"));
  const b = engine.add(fakeContainer(B, "bbbb"));
  const harness = startExporter(engine, { EXPORTER_REFRESH_INTERVAL: "1m", EXPORTER_STALE_AFTER: "2m" });
  try {
    await waitFor(async () => containerIds(await harness.samples()).length === 2, 5000, "the first sync");
    await engine.waitForEventStreams();
    // A whole inspect answer about A, out of date, that no request asked for: on the connections the exporter keeps.
    const staleA = JSON.stringify({ ...fakeContainer(A, "aaaa"), RestartCount: 99 });
    await engine.sendToIdleConnections(
      `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${staleA.length}\r\n\r\n${staleA}`,
    );
    // The next call the exporter makes: B's inspect after its die.
    b.State = { ...b.State, Status: "exited", ExitCode: 3 };
    const asked = engine.requests.length;
    await engine.sendAction(B, "die", { exitCode: "3" });
    await waitFor(
      () => engine.requests.slice(asked).some((r) => r.path === `/v1.41/containers/${B}/json`),
      5000,
      "B's inspect",
    );
    await sleep(300);
    const samples = await harness.samples();
    assert.equal(sampleValue(samples, "docker_container_restarts_total", { id: A }), 0, "A's record is A's own");
    assert.deepEqual(containerIds(samples), [A, B]);
    assert.ok(inState(samples, A, "running"));
    assert.ok(inState(samples, B, "exited"));
    assert.equal(sampleValue(samples, "docker_container_exit_code", { id: B }), 3);
  } finally {
    await harness.stop();
    engine.stop();
  }
});

Deno.test("a container that vanishes between list and inspect leaves no series and counts as no error", async () => {
  const engine = await FakeEngine.start();
  engine.add(fakeContainer(A, "aaaa"));
  // The list still has X; by the time its inspect comes, the engine answers 404.
  engine.overrides.set("list", [{ status: 200, body: [summaryOf(A, "aaaa"), summaryOf(X, "eeee")] }]);
  const harness = startExporter(engine);
  try {
    await waitFor(async () => inState(await harness.samples(), A, "running"), 5000, "the first sync");
    const listsSoFar = engine.requests.filter((r) => r.path.includes("/containers/json")).length;
    await waitFor(
      () => engine.requests.filter((r) => r.path.includes("/containers/json")).length >= listsSoFar + 2,
      5000,
      "two more lists",
    );
    const samples = await harness.samples();
    assert.deepEqual(containerIds(samples), [A]);
    assert.deepEqual(findSamples(samples, "docker_exporter_engine_api_errors_total"), []);
    assert.equal(sampleValue(samples, "docker_exporter_containers_tracked"), 1);
    assert.equal(
      engine.requests.filter((r) => r.path === `/v1.41/containers/${X}/json`).length,
      1,
      "X was inspected once, and not again once it was gone",
    );
  } finally {
    await harness.stop();
    engine.stop();
  }
});

Deno.test("events out of order end in the state the engine reports: a late die after a restart's start", async () => {
  const engine = await FakeEngine.start();
  const a = engine.add(fakeContainer(A, "aaaa", { StartedAt: "2026-11-25T10:00:01.5Z" }));
  const harness = startExporter(engine, { EXPORTER_REFRESH_INTERVAL: "1m", EXPORTER_STALE_AFTER: "2m" });
  try {
    await waitFor(async () => inState(await harness.samples(), A, "running"), 5000, "the first sync");
    await engine.waitForEventStreams();
    // The engine restarted A: it died at t1 and started again at t2. The start is delivered before the die.
    const t1 = Date.now() - 2000;
    const t2 = Date.now() - 1000;
    a.State = { ...a.State, StartedAt: new Date(t2).toISOString(), FinishedAt: new Date(t1).toISOString() };
    a.State.ExitCode = 0;
    await engine.sendEvents([
      containerEvent(A, "start", {}, t2),
      containerEvent(A, "die", { exitCode: "137" }, t1),
    ]);
    await waitFor(
      async () => {
        const samples = await harness.samples();
        return inState(samples, A, "running") &&
          sampleValue(samples, "docker_container_start_time_seconds", { id: A }) === t2 / 1000;
      },
      5000,
      "A running with the engine's start time",
    );
    // A moment later nothing has moved it back to `exited`.
    await sleep(300);
    const samples = await harness.samples();
    assert.ok(inState(samples, A, "running"));
    assert.equal(sampleValue(samples, "docker_container_exit_code", { id: A }), 0);
    assert.equal(sampleValue(samples, "docker_container_finished_time_seconds", { id: A }), t1 / 1000);
  } finally {
    await harness.stop();
    engine.stop();
  }
});

Deno.test("events out of order: a die before any start, for a container missed at sync, shows it as it is", async () => {
  const engine = await FakeEngine.start();
  const harness = startExporter(engine, { EXPORTER_REFRESH_INTERVAL: "1m", EXPORTER_STALE_AFTER: "2m" });
  try {
    await waitFor(() => harness.exporter.stats.synced, 5000, "the first sync");
    await engine.waitForEventStreams();
    engine.add(fakeContainer(C, "cccc"));
    await engine.sendEvents([containerEvent(C, "die", { exitCode: "1" }), containerEvent(C, "start")]);
    await waitFor(async () => inState(await harness.samples(), C, "running"), 5000, "C running");
    await sleep(300);
    const samples = await harness.samples();
    assert.ok(inState(samples, C, "running"));
    assert.equal(sampleValue(samples, "docker_container_exit_code", { id: C }), 0);
  } finally {
    await harness.stop();
    engine.stop();
  }
});

Deno.test("events after a destroy do not bring the container back, even while the engine still answers for it", async () => {
  const engine = await FakeEngine.start();
  engine.add(fakeContainer(A, "aaaa"));
  engine.add(fakeContainer(B, "bbbb"));
  const harness = startExporter(engine, { EXPORTER_REFRESH_INTERVAL: "1m", EXPORTER_STALE_AFTER: "2m" });
  try {
    await waitFor(async () => containerIds(await harness.samples()).length === 2, 5000, "the first sync");
    await engine.waitForEventStreams();
    // A stale engine still answers inspect for A, but A's destroy came first.
    await engine.sendEvents([
      containerEvent(A, "destroy"),
      containerEvent(A, "die", { exitCode: "3" }),
      containerEvent(A, "health_status: healthy"),
      containerEvent(A, "rename", { name: "/renamed" }),
      containerEvent(A, "oom"),
      containerEvent(A, "pause"),
      containerEvent(A, "start"),
      containerEvent(B, "die", { exitCode: "4" }),
    ]);
    engine.containers.get(B)!.State = { ...engine.containers.get(B)!.State, Status: "exited", ExitCode: 4 };
    await waitFor(async () => inState(await harness.samples(), B, "exited"), 5000, "the event after them");
    await sleep(300);
    const samples = await harness.samples();
    assert.deepEqual(containerIds(samples), [B]);
    assert.equal(sampleValue(samples, "docker_container_exit_code", { id: B }), 4);
    assert.equal(sampleValue(samples, "docker_exporter_events_total", { action: "destroy" }), 1);
  } finally {
    await harness.stop();
    engine.stop();
  }
});

Deno.test("events of every followed action for ids the engine does not know are counted and leave no series", async () => {
  const engine = await FakeEngine.start();
  engine.add(fakeContainer(A, "aaaa"));
  const harness = startExporter(engine, { EXPORTER_REFRESH_INTERVAL: "1m", EXPORTER_STALE_AFTER: "2m" });
  try {
    await waitFor(async () => inState(await harness.samples(), A, "running"), 5000, "the first sync");
    await engine.waitForEventStreams();
    const unknown = FOLLOWED_ACTIONS.map((action, i) => ({
      action,
      id: (i + 1).toString(16).padStart(2, "0").repeat(32),
    }));
    await engine.sendEvents(unknown.map(({ action, id }) =>
      containerEvent(
        id,
        action === "health_status" ? "health_status: unhealthy" : action,
        action === "rename" ? { name: "/ghost" } : { exitCode: "1" },
      )
    ));
    const inspected = (id: string) => engine.requests.some((r) => r.path === `/v1.41/containers/${id}/json`);
    // Every action but a removal asks the engine about a container it does not know.
    const removes = (action: string) =>
      eventEffect({ action, detail: "", id: "x", attributes: {}, timeMs: 0 }, false).remove;
    const expectInspected = unknown.filter(({ action }) => !removes(action));
    assert.ok(expectInspected.length >= FOLLOWED_ACTIONS.length - 2);
    await waitFor(() => expectInspected.every(({ id }) => inspected(id)), 5000, "an inspect for each unknown id");
    await sleep(200);
    const samples = await harness.samples();
    assert.deepEqual(containerIds(samples), [A]);
    for (const { action } of unknown) {
      assert.equal(sampleValue(samples, "docker_exporter_events_total", { action }), 1, action);
    }
    assert.deepEqual(findSamples(samples, "docker_exporter_engine_api_errors_total"), []);
    for (const { action, id } of unknown.filter(({ action }) => removes(action))) {
      assert.equal(inspected(id), false, `a ${action} needs no inspect`);
    }
  } finally {
    await harness.stop();
    engine.stop();
  }
});

Deno.test("event ids that are not container ids are escaped in the inspect path, and only GETs are sent", async () => {
  const engine = await FakeEngine.start();
  engine.add(fakeContainer(A, "aaaa"));
  const harness = startExporter(engine, { EXPORTER_REFRESH_INTERVAL: "1m", EXPORTER_STALE_AFTER: "2m" });
  try {
    await waitFor(async () => inState(await harness.samples(), A, "running"), 5000, "the first sync");
    await engine.waitForEventStreams();
    const hostile = ["../../info", "json?all=1#", "a/b", "%2e%2e", "名前", "x y"];
    await engine.sendEvents(hostile.map((id) => containerEvent(id, "start")));
    const paths = hostile.map((id) => `/v1.41/containers/${encodeURIComponent(id)}/json`);
    await waitFor(
      () => paths.every((path) => engine.requests.some((r) => r.path === path)),
      5000,
      `inspects at ${paths.join(" ")}; seen ${JSON.stringify(engine.requests.map((r) => r.path).slice(-8))}`,
    );
    const samples = await harness.samples();
    assert.deepEqual(containerIds(samples), [A]);
    assert.deepEqual(findSamples(samples, "docker_exporter_engine_api_errors_total"), []);
    assert.deepEqual(engine.requests.filter((r) => r.method !== "GET"), []);
    assert.deepEqual(
      engine.requests.filter((r) =>
        !r.path.startsWith("/v1.41/containers/") && !/^\/(v1\.41\/)?(version|info|events)/.test(r.path)
      ),
      [],
      "no request left the endpoints the exporter uses",
    );
  } finally {
    await harness.stop();
    engine.stop();
  }
});

/**
 * The resident memory of process `pid` now and at its peak, in MiB, from /proc/<pid>/status read by `cat`:
 * Deno lets only --allow-all read another process's /proc, and the test task does not grant it.
 */
async function memoryOf(pid: number): Promise<{ rssMiB: number; peakMiB: number }> {
  const status = await runCommand("cat", [`/proc/${pid}/status`]);
  const mib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1]) / 1024;
  return { rssMiB: mib("VmRSS"), peakMiB: mib("VmHWM") };
}

/** 50 MB, the size of the answers in the next test. */
const FIFTY_MB = 50 * 1024 * 1024;

Deno.test("50 MB answers (an inspect, a list and one event) are handled and counted; metrics stay correct and the process keeps running", async () => {
  const engine = await FakeEngine.start();
  engine.add(fakeContainer(A, "aaaa"));
  await using exporter = await startBenchExporter({
    socket: engine.path,
    env: { EXPORTER_REFRESH_INTERVAL: "1s", EXPORTER_STALE_AFTER: "1m" },
    readyTimeoutMs: 20_000,
  });
  try {
    const scrape = async () => parseSamples(await exporter.scrape());
    await waitFor(async () => inState(await scrape(), A, "running"), 5000, "the first sync");
    await engine.waitForEventStreams();
    const before = await memoryOf(exporter.pid);
    let peakMiB = before.rssMiB;
    const sampleMemory = async () => (peakMiB = Math.max(peakMiB, (await memoryOf(exporter.pid)).rssMiB));

    // 1. A valid 50 MB inspect: a container with one huge label. It is tracked; the label is not exported.
    const big = fakeContainer(B, "bbbb");
    big.Config.Labels = { "com.example.blob": "x".repeat(FIFTY_MB) };
    engine.add(big);
    await engine.sendAction(B, "start");
    const withBig = await waitFor(
      async () => {
        await sampleMemory();
        const text = await exporter.scrape();
        return inState(parseSamples(text), B, "running") && text;
      },
      20_000,
      "the container with the 50 MB label",
    );
    assert.ok(withBig.length < 1 << 20 && !withBig.includes("x".repeat(100)), `the scrape is ${withBig.length} bytes`);
    assert.deepEqual(containerIds(parseSamples(withBig)), [A, B]);
    engine.containers.delete(B);
    await engine.sendAction(B, "destroy");
    await waitFor(async () => containerIds(await scrape()).length === 1, 5000, "the big container to go");

    // 2. A 50 MB list that is not JSON: counted, and A stays.
    engine.overrides.set("list", [{ status: 200, raw: new Uint8Array(FIFTY_MB).fill(0x78) }]);
    await until(
      async () => {
        await sampleMemory();
        const samples = await scrape();
        assert.ok(inState(samples, A, "running"), "A disappeared after the 50 MB list");
        return sampleValue(samples, "docker_exporter_engine_api_errors_total", { operation: "list" }) === 1;
      },
      20_000,
      "the 50 MB list to be counted",
    );

    // 3. One 50 MB event, with braces in its strings: counted as unusable, and the next event still lands.
    const hugeEvent = JSON.stringify(containerEvent(C, "start", { blob: "{x".repeat(FIFTY_MB / 2) })) + "\n";
    const hugeBytes = new TextEncoder().encode(hugeEvent);
    await engine.sendRaw(`${hugeBytes.length.toString(16)}\r\n`);
    await engine.sendRaw(hugeBytes);
    await engine.sendRaw("\r\n");
    engine.add(fakeContainer(C, "cccc"));
    await engine.sendAction(C, "start");
    const after = await waitFor(
      async () => {
        await sampleMemory();
        const samples = await scrape();
        return inState(samples, C, "running") && samples;
      },
      20_000,
      "the event after the 50 MB one",
    );
    assert.ok(sampleValue(after, "docker_exporter_event_decode_errors_total")! >= 1);
    assert.equal(sampleValue(after, "docker_exporter_event_stream_reconnects_total"), 0, "the stream went on");
    assert.deepEqual(containerIds(after), [A, C]);
    assert.equal(sampleValue(after, "docker_up"), 1);

    // Let the garbage go: a few scrapes over two seconds, then read the memory again.
    for (let i = 0; i < 4; i++) {
      await exporter.scrape();
      await sleep(500);
    }
    const settled = await memoryOf(exporter.pid);
    if (REPORT) {
      console.log(
        `50 MB answers: RSS before ${before.rssMiB.toFixed(1)} MiB, highest seen ${peakMiB.toFixed(1)} MiB, ` +
          `peak (VmHWM) ${settled.peakMiB.toFixed(1)} MiB, after ${settled.rssMiB.toFixed(1)} MiB; ` +
          `decode errors ${sampleValue(after, "docker_exporter_event_decode_errors_total")}`,
      );
    }
  } finally {
    engine.stop();
  }
});
