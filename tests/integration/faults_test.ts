/**
 * Fault tests against the scripted fake engine (tests/support/fake_engine.ts): the faults a real dockerd
 * cannot produce on demand. The exporter is wired exactly as main.ts wires it, minus the listening socket.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../lib/config/settings.ts";
import { buildExporter, type Exporter } from "../../lib/exporter.ts";
import type { Logger } from "../../lib/shared/logger.ts";
import { loadDockerode } from "../../lib/docker/dockerode.ts";
import { fakeContainer, FakeEngine } from "../support/fake_engine.ts";

interface Harness {
  exporter: Exporter;
  logs: { level: string; msg: string; fields?: Record<string, unknown> }[];
  scrape(): Promise<string>;
  metric(line: string): Promise<number | undefined>;
  stop(): Promise<void>;
}

/** dockerode, loaded once for every harness in this file. */
const Docker = await loadDockerode();

function startExporter(dockerHost: string, env: Record<string, string> = {}): Harness {
  const command = parseConfig([], (name) =>
    ({
      DOCKER_HOST: dockerHost,
      ...env,
    })[name]);
  assert.equal(command.kind, "run");
  // Unless a test sets its own, a refresh and stale period shorter than a user may set, to keep the tests short.
  const config = env.EXPORTER_REFRESH_INTERVAL === undefined
    ? { ...command.config, refreshIntervalMs: 200, staleAfterMs: 1000 }
    : command.config;
  const logs: Harness["logs"] = [];
  const record = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
    logs.push({ level, msg, fields });
  const logger: Logger = { debug: record("debug"), info: record("info"), warn: record("warn"), error: record("error") };
  const controller = new AbortController();
  const exporter = buildExporter(config, {
    logger,
    now: Date.now,
    readProcess: () => ({ residentMemoryBytes: 1, cpuSeconds: 1, startTimeSeconds: 1, openFds: 1, maxFds: 2 }),
    signal: controller.signal,
    dockerCallTimeoutMs: 500,
    Docker,
  });
  const running = exporter.run();
  const scrape = async () => await (await exporter.handler(new Request("http://localhost/metrics"))).text();
  return {
    exporter,
    logs,
    scrape,
    async metric(series: string) {
      const line = (await scrape()).split("\n").find((l) => l.startsWith(series + " "));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    },
    async stop() {
      controller.abort();
      await running;
    },
  };
}

async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const A = "a".repeat(64);
const B = "b".repeat(64);
const stateOf = (id: string, state: string) =>
  `docker_container_state{id="${id}",name="${id.slice(0, 4)}",state="${state}"}`;

Deno.test("the exporter keeps serving while the engine is down at start-up, then syncs when it appears", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/docker.sock`;
  const harness = startExporter(`unix://${path}`);
  try {
    await eventually("three connection attempts failed", () => harness.exporter.stats.eventStreamReconnects >= 3);
    assert.equal(await harness.metric("docker_up"), 0);
    const ready = await harness.exporter.handler(new Request("http://localhost/readyz"));
    assert.equal(ready.status, 503);
    await ready.body?.cancel();
    const health = await harness.exporter.handler(new Request("http://localhost/healthz"));
    assert.equal(health.status, 200);
    await health.body?.cancel();

    const engine = await FakeEngine.start(path);
    engine.add(fakeContainer(A, "aaaa"));
    await eventually("the container appears", async () => (await harness.metric(stateOf(A, "running"))) === 1);
    assert.equal(await harness.metric("docker_up"), 1);
    const readyAfter = await harness.exporter.handler(new Request("http://localhost/readyz"));
    assert.equal(readyAfter.status, 200);
    await readyAfter.body?.cancel();
    const unreachable = harness.logs.filter((l) => l.msg.startsWith("Docker is unreachable"));
    assert.equal(unreachable.length, 1, "logged once per state change, not once per retry");
    await harness.stop();
    engine.stop();
  } finally {
    await harness.stop();
  }
});

Deno.test("when the engine goes away its containers are swept, and a restarted engine is resynced with since=", async () => {
  const engine = await FakeEngine.start();
  engine.add(fakeContainer(A, "aaaa"));
  const harness = startExporter(engine.url);
  try {
    await eventually("the container appears", async () => (await harness.metric(stateOf(A, "running"))) === 1);
    await engine.waitForEventStreams();
    engine.add(fakeContainer(B, "bbbb"));
    await engine.sendAction(B, "start");
    await eventually(
      "the event brings the second container",
      async () => (await harness.metric(stateOf(B, "running"))) === 1,
    );
    const lastEventSeconds = harness.exporter.stats.lastEventMs! / 1000;

    engine.stop();
    await eventually("docker_up is 0", async () => (await harness.metric("docker_up")) === 0);
    // Both, each in its own time: they were last seen some milliseconds apart, and a sweep can fall in between.
    await eventually(
      "stale containers are swept",
      async () =>
        (await harness.metric(stateOf(A, "running"))) === undefined &&
        (await harness.metric(stateOf(B, "running"))) === undefined,
      4000,
    );

    engine.containers.delete(A);
    engine.requests.length = 0;
    engine.hostname = "renamed-host";
    engine.listen();
    await eventually(
      "the remaining container is back",
      async () => (await harness.metric(stateOf(B, "running"))) === 1,
      15_000,
    );
    assert.equal(await harness.metric(stateOf(A, "running")), undefined, "a container gone meanwhile stays gone");
    await engine.waitForEventStreams();
    const hostnames = (await harness.scrape()).split("\n").filter((l) => l.startsWith("server_hostname{"));
    assert.deepEqual(hostnames, ['server_hostname{hostname="renamed-host"} 1'], "the old hostname series is gone");
    assert.equal(await harness.metric("docker_up"), 1);
    const resumed = engine.requests.find((r) => r.path.includes("/events"));
    assert.ok(resumed, "the event stream was reopened");
    const since = Number(new URL(`http://x${resumed.path}`).searchParams.get("since"));
    assert.ok(since <= lastEventSeconds && since >= lastEventSeconds - 2, `since=${since} resumes near the last event`);
    assert.equal(harness.logs.filter((l) => l.msg.startsWith("Docker is unreachable")).length, 1);
    assert.ok((await harness.metric("docker_exporter_event_stream_reconnects_total"))! >= 1);
  } finally {
    await harness.stop();
    engine.stop();
  }
});

Deno.test("an event stream cut mid-chunk and mid-JSON is counted, reopened, and no event after it is lost", async () => {
  const engine = await FakeEngine.start();
  engine.add(fakeContainer(A, "aaaa"));
  const harness = startExporter(engine.url, { EXPORTER_REFRESH_INTERVAL: "1m", EXPORTER_STALE_AFTER: "2m" });
  try {
    await eventually("synced", async () => (await harness.metric(stateOf(A, "running"))) === 1);
    await engine.waitForEventStreams();
    await engine.cutEventStreams('7f\r\n{"Type":"container","Action":"die","Actor":{"ID":"aaaa');
    await eventually("the stream is reopened", () => engine.openEventStreams === 1 && harness.exporter.stats.synced);
    assert.ok((await harness.metric("docker_exporter_event_stream_reconnects_total"))! >= 1);
    assert.ok((await harness.metric('docker_exporter_engine_api_errors_total{operation="events"}'))! >= 1);

    engine.add(fakeContainer(B, "bbbb"));
    await engine.sendAction(B, "start");
    await eventually(
      "an event after the cut is applied",
      async () => (await harness.metric(stateOf(B, "running"))) === 1,
    );
    assert.equal(await harness.metric(stateOf(A, "running")), 1, "the half-sent event changed nothing");
  } finally {
    await harness.stop();
    engine.stop();
  }
});

Deno.test("garbage and truncated JSON in the event stream are counted and skipped; the stream goes on", async () => {
  const engine = await FakeEngine.start();
  engine.add(fakeContainer(A, "aaaa"));
  const harness = startExporter(engine.url, { EXPORTER_REFRESH_INTERVAL: "1m", EXPORTER_STALE_AFTER: "2m" });
  try {
    await eventually("synced", async () => (await harness.metric(stateOf(A, "running"))) === 1);
    await engine.waitForEventStreams();
    const garbage = 'this is not json\n{"Type":"container","Action":}\n';
    await engine.sendRaw(`${garbage.length.toString(16)}\r\n${garbage}\r\n`);
    engine.containers.get(A)!.State = { ...engine.containers.get(A)!.State, Status: "exited", ExitCode: 7 };
    await engine.sendAction(A, "die", { exitCode: "7" });
    await eventually(
      "the next event is applied",
      async () => (await harness.metric(`docker_container_exit_code{id="${A}",name="aaaa"}`)) === 7,
    );
    assert.equal(await harness.metric("docker_exporter_event_decode_errors_total"), 2);
    assert.equal(await harness.metric("docker_exporter_event_stream_reconnects_total"), 0);
    assert.ok(harness.logs.some((l) => l.level === "warn" && l.msg.includes("unusable data")));
  } finally {
    await harness.stop();
    engine.stop();
  }
});

Deno.test("megabytes of garbage in the event stream are all counted, and logged in two lines with their count", async () => {
  const engine = await FakeEngine.start();
  engine.add(fakeContainer(A, "aaaa"));
  const harness = startExporter(engine.url, { EXPORTER_REFRESH_INTERVAL: "1m", EXPORTER_STALE_AFTER: "2m" });
  try {
    await eventually("synced", async () => (await harness.metric(stateOf(A, "running"))) === 1);
    await engine.waitForEventStreams();
    // 4 MiB of `x\n`: each line is one unusable piece.
    const chunk = "x\n".repeat(32 * 1024);
    const chunks = 64;
    const pieces = chunks * 32 * 1024;
    for (let i = 0; i < chunks; i++) await engine.sendRaw(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    await eventually("every piece is counted", () => harness.exporter.stats.eventDecodeErrors === pieces, 10_000);
    assert.equal(await harness.metric("docker_exporter_event_decode_errors_total"), pieces);
    assert.equal(await harness.metric("docker_exporter_event_stream_reconnects_total"), 0, "the stream went on");

    // The end of the stream logs the pieces not logged yet.
    await engine.cutEventStreams();
    const garbageLines = () => harness.logs.filter((l) => l.msg === "skipped unusable data in the event stream");
    await eventually("the stream's end is logged", () => garbageLines().length > 1);
    assert.ok(garbageLines().length <= 3, `${garbageLines().length} lines about the garbage`);
    assert.deepEqual(
      garbageLines().map((l) => [l.level, l.fields?.text, l.fields?.suppressed]),
      [["warn", "x", undefined], ["warn", "x", pieces - 1]],
      "the first piece at once, the rest in one line with their count",
    );
    await eventually("the stream is reopened", () => engine.openEventStreams === 1);
    engine.add(fakeContainer(B, "bbbb"));
    await engine.sendAction(B, "start");
    await eventually(
      "an event after the garbage lands",
      async () => (await harness.metric(stateOf(B, "running"))) === 1,
    );
  } finally {
    await harness.stop();
    engine.stop();
  }
});

Deno.test("HTTP 500 from list and inspect is counted per operation and retried until it succeeds", async () => {
  const engine = await FakeEngine.start();
  engine.add(fakeContainer(A, "aaaa"));
  engine.overrides.set("list", [{ status: 500, body: { message: "boom" } }, {
    status: 500,
    body: { message: "boom" },
  }]);
  engine.overrides.set("inspect", [{ status: 500, body: { message: "inspect boom" } }]);
  const harness = startExporter(engine.url);
  try {
    await eventually(
      "the container appears after the errors",
      async () => (await harness.metric(stateOf(A, "running"))) === 1,
      10_000,
    );
    assert.equal(await harness.metric('docker_exporter_engine_api_errors_total{operation="list"}'), 2);
    assert.equal(await harness.metric('docker_exporter_engine_api_errors_total{operation="inspect"}'), 1);
    assert.equal(await harness.metric("docker_up"), 1, "an engine answering 500 is up");
  } finally {
    await harness.stop();
    engine.stop();
  }
});

Deno.test("an inspect that hangs past its timeout is counted and does not block other containers", async () => {
  const engine = await FakeEngine.start();
  engine.add(fakeContainer(A, "aaaa"));
  engine.add(fakeContainer(B, "bbbb"));
  engine.overrides.set("inspect", ["hang"]);
  const harness = startExporter(engine.url);
  try {
    await eventually(
      "both containers appear",
      async () =>
        (await harness.metric(stateOf(A, "running"))) === 1 && (await harness.metric(stateOf(B, "running"))) === 1,
    );
    assert.equal(await harness.metric('docker_exporter_engine_api_errors_total{operation="inspect"}'), 1);
  } finally {
    await harness.stop();
    engine.stop();
  }
});

Deno.test("events for unknown ids are inspected, and a destroy that overtakes its inspect is not undone", async () => {
  const engine = await FakeEngine.start();
  const harness = startExporter(engine.url, { EXPORTER_REFRESH_INTERVAL: "1m", EXPORTER_STALE_AFTER: "2m" });
  try {
    await eventually("synced", () => harness.exporter.stats.synced);
    await engine.waitForEventStreams();
    await engine.sendAction("c".repeat(64), "start");
    await engine.sendAction("c".repeat(64), "destroy");
    engine.add(fakeContainer(A, "aaaa"));
    await engine.sendAction(A, "start");
    await eventually("a known start lands", async () => (await harness.metric(stateOf(A, "running"))) === 1);
    assert.ok(!(await harness.scrape()).includes("c".repeat(64)), "the unknown, destroyed container left no series");

    // The container answers inspect, but its destroy event arrives first: it must stay gone.
    engine.add(fakeContainer(B, "bbbb"));
    await engine.sendAction(B, "destroy");
    await engine.sendAction(B, "start");
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(await harness.metric(stateOf(B, "running")), undefined);
  } finally {
    await harness.stop();
    engine.stop();
  }
});

Deno.test("the exporter never sends anything but GET to the engine", async () => {
  const engine = await FakeEngine.start();
  engine.add(fakeContainer(A, "aaaa"));
  const harness = startExporter(engine.url);
  try {
    await eventually("synced", async () => (await harness.metric(stateOf(A, "running"))) === 1);
    await engine.waitForEventStreams();
    await engine.sendAction(A, "restart");
    await new Promise((resolve) => setTimeout(resolve, 500));
  } finally {
    await harness.stop();
    engine.stop();
  }
  assert.ok(engine.requests.length > 3);
  assert.deepEqual(engine.requests.filter((r) => r.method !== "GET"), []);
});

Deno.test("DOCKER_HOST=tcp:// works for sync and events, as behind a read-only socket proxy", async () => {
  const engine = FakeEngine.startTcp();
  engine.add(fakeContainer(A, "aaaa"));
  const harness = startExporter(engine.url);
  try {
    await eventually("synced over TCP", async () => (await harness.metric(stateOf(A, "running"))) === 1);
    await engine.waitForEventStreams();
    engine.add(fakeContainer(B, "bbbb"));
    await engine.sendAction(B, "start");
    await eventually("an event over TCP lands", async () => (await harness.metric(stateOf(B, "running"))) === 1);
  } finally {
    await harness.stop();
    engine.stop();
  }
});
