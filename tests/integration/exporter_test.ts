import assert from "node:assert/strict";
import { parseConfig } from "../../lib/config/settings.ts";
import { loadDockerode } from "../../lib/docker/dockerode.ts";
import { buildExporter } from "../../lib/exporter.ts";
import { ExporterStats } from "../../lib/engine/stats.ts";
import { silentLogger } from "../../lib/shared/logger.ts";
import type { ProcessSample } from "../../lib/metrics/process.ts";
import { fakeContainer, FakeEngine } from "../support/fake_engine.ts";

Deno.test("a scrape shows the exporter's own values as soon as they change, read from one process reading", async () => {
  const command = parseConfig(
    [],
    (name) => ({ DOCKER_HOST: "unix:///nonexistent/docker.sock", EXPORTER_RESOURCE_METRICS: "off" })[name],
  );
  assert.equal(command.kind, "run");
  let reading: ProcessSample = {
    residentMemoryBytes: 1000,
    cpuSeconds: 1,
    startTimeSeconds: 5,
    openFds: undefined,
    maxFds: undefined,
  };
  let reads = 0;
  const controller = new AbortController();
  // Not run: no engine is needed to serve the exporter's own families.
  const exporter = buildExporter(command.config, {
    logger: silentLogger,
    now: Date.now,
    readProcess: () => {
      reads++;
      return reading;
    },
    signal: controller.signal,
    Docker: await loadDockerode(),
  });
  const scrape = async () => await (await exporter.handler(new Request("http://localhost/metrics"))).text();
  const has = (text: string, line: string) => assert.ok(text.split("\n").includes(line), `no "${line}" in:\n${text}`);

  has(await scrape(), "docker_exporter_http_auth_failures_total 0");
  exporter.stats.authFailures++;
  has(await scrape(), "docker_exporter_http_auth_failures_total 1");
  ExporterStats.increment(exporter.stats.eventsByAction, "start");
  has(await scrape(), 'docker_exporter_events_total{action="start"} 1');
  exporter.stats.engineUp = true;
  has(await scrape(), "docker_up 1");

  reads = 0;
  reading = { ...reading, cpuSeconds: 2, residentMemoryBytes: 2000 };
  const text = await scrape();
  has(text, "process_cpu_seconds_total 2");
  has(text, "process_resident_memory_bytes 2000");
  assert.equal(reads, 1, "the revision and the families come from one reading");
  controller.abort();
});

Deno.test("the exporter closes its kept engine connections when it stops", async () => {
  const engine = await FakeEngine.start();
  const container = engine.add(fakeContainer("c0ffee", "web"));
  // Answered as dockerd answers, on a connection left open: the exporter keeps it for the next call.
  engine.overrides.set("inspect", [{ status: 200, raw: JSON.stringify(container), keepOpen: true }]);
  const command = parseConfig([], (name) => ({ DOCKER_HOST: engine.url, EXPORTER_RESOURCE_METRICS: "off" })[name]);
  assert.equal(command.kind, "run");
  const controller = new AbortController();
  const exporter = buildExporter(command.config, {
    logger: silentLogger,
    now: Date.now,
    readProcess: () => ({ residentMemoryBytes: 0, cpuSeconds: 0, startTimeSeconds: 0, openFds: 0, maxFds: 0 }),
    signal: controller.signal,
    Docker: await loadDockerode(),
  });
  const running = exporter.run();
  try {
    const deadline = Date.now() + 5000;
    while (exporter.registry.size < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(exporter.registry.size, 1, "synced");
    assert.ok(engine.openConnections >= 2, "the event stream and the kept inspect connection");
  } finally {
    controller.abort();
    await running;
  }
  const deadline = Date.now() + 2000;
  while (engine.openConnections > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(engine.openConnections, 0);
  engine.stop();
  await Deno.remove(engine.path.replace(/\/docker\.sock$/, ""), { recursive: true });
});
