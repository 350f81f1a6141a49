/**
 * EXPORTER_INCLUDE_CONTAINERS, EXPORTER_EXCLUDE_CONTAINERS and the docker-exporter.ignore label against real engines,
 * Docker at /var/run/docker.sock and Podman's service (started by the tests), through the logging proxy
 * bench/docker_proxy.ts: a container the filters leave out has no series of any family, and the exporter never
 * inspects it or reads its stats, however it lives (started, restarted, stopped, killed); a rename takes a container
 * in or out. Every container runs with `--network none`.
 */
import assert from "node:assert/strict";
import { containerIdOf, DockerProxy, operationOf } from "../../bench/docker_proxy.ts";
import { ContainerScope, type TestContainer, waitFor } from "../support/docker.ts";
import { engineTest as registerForEngines, type TestEngine, testEngines } from "../support/engines.ts";
import { findSamples, type ParsedSample, startExporter } from "../support/exporter.ts";

const ENGINES = await testEngines("container_filters_test.ts");

const engineTest = (name: string, fn: (engine: TestEngine) => Promise<void>) => registerForEngines(ENGINES, name, fn);

/** How long to wait for what the event stream or a collection brings, generous for a loaded machine. */
const WAIT_MS = 20_000;

/** The ids every series of `samples` is about. */
const idsOf = (samples: ParsedSample[]) => new Set(samples.map((sample) => sample.labels.id).filter(Boolean));

engineTest(
  "left-out containers have no series, and the exporter never inspects them or reads their stats",
  async (engine) => {
    const proxy = await DockerProxy.start({ upstream: engine.socket });
    try {
      await using scope = new ContainerScope("filters", engine);
      const name = (part: string) => scope.nameFor(part);
      await using exporter = await startExporter({
        dockerSocket: proxy.path,
        env: {
          // Only this test's containers (the engine may hold others): those named <prefix>-in*, and those picked by
          // label, but not in-but-out nor any with a com.example.drop label.
          EXPORTER_INCLUDE_CONTAINERS: `${name("in")}*, label:com.example.pick=${scope.prefix}`,
          EXPORTER_EXCLUDE_CONTAINERS: `${name("in-but-out")},label:com.example.drop=*`,
          // Stats calls a second for every followed running container, and a list a second.
          EXPORTER_RESOURCE_METRICS: "api",
          EXPORTER_RESOURCE_INTERVAL: "1s",
          EXPORTER_REFRESH_INTERVAL: "1s",
        },
      });

      const followed = [
        await scope.run({ name: "in-1" }),
        await scope.run({ name: "picked", labels: { "com.example.pick": scope.prefix } }),
      ];
      const leftOut: TestContainer[] = [
        await scope.run({ name: "other" }),
        await scope.run({ name: "in-but-out" }),
        await scope.run({ name: "in-dropped", labels: { "com.example.drop": "" } }),
        await scope.run({ name: "in-ignored", labels: { "docker-exporter.ignore": "true" } }),
      ];
      const [other, butOut, dropped, ignored] = leftOut;
      await engine.cli("restart", other.id);
      await engine.cli("kill", butOut.id);
      await engine.cli("start", butOut.id);
      await engine.cli("stop", dropped.id);
      await engine.cli("pause", ignored.id);

      // Once a stats call for each followed container has come after all that, the left-out ones had their chances.
      const afterLifecycle = performance.now();
      const statsFor = (id: string) =>
        proxy.requests.filter((r) =>
          r.atMs >= afterLifecycle && operationOf(r.path) === "stats" && containerIdOf(r.path) === id
        );
      const samples = await waitFor(
        async () => {
          const s = await exporter.samples();
          const ids = idsOf(findSamples(s, "container_cpu_usage_seconds_total"));
          return followed.every((c) => ids.has(c.id) && statsFor(c.id).length >= 2) && s;
        },
        WAIT_MS,
        "resource series of the two followed containers, and two stats calls each since the left-out ones changed",
      );
      const ids = idsOf(samples);
      for (const c of followed) {
        assert.ok(findSamples(samples, "docker_container_starts_total", { id: c.id }).length === 1, c.name);
      }
      for (const c of leftOut) assert.ok(!ids.has(c.id), `${c.name} has series`);
      const touched = (c: TestContainer) =>
        proxy.requests.filter((r) => containerIdOf(r.path)?.startsWith(c.id.slice(0, 12))).map((r) => r.path);
      for (const c of leftOut) assert.deepEqual(touched(c), [], `requests about ${c.name}`);

      // Renamed in, a container is followed; renamed out, it goes.
      await engine.cli("rename", other.name, name("in-renamed"));
      await engine.cli("rename", followed[0].name, name("gone"));
      await waitFor(
        async () => {
          const now = idsOf(await exporter.samples());
          return now.has(other.id) && !now.has(followed[0].id);
        },
        WAIT_MS,
        "the renamed containers to come in and go out",
      );
      for (const c of [butOut, dropped, ignored]) assert.deepEqual(touched(c), [], `requests about ${c.name}`);
      assert.deepEqual(proxy.writeMethods(), []);
      await exporter.stop();
    } finally {
      proxy.close();
    }
  },
);
