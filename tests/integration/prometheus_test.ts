/**
 * A real Prometheus (Debian's `prometheus` package) scrapes the real exporter every second, and its
 * HTTP API is asked for the series of a test container. Proves the output is accepted, stored and
 * queryable as users will query it, with OpenMetrics negotiated as Prometheus does. Once against Docker and
 * once against Podman's Docker-compatible service.
 */
import assert from "node:assert/strict";
import { ContainerScope, waitFor } from "../support/docker.ts";
import { testEngines } from "../support/engines.ts";
import { startExporter } from "../support/exporter.ts";
import { PrometheusServer, scrapeConfig } from "../support/prometheus_server.ts";

/** The queries of the `promql` block of docs/metrics.md: lines that go on with an indent belong to the query above. */
function documentedQueries(): string[] {
  const page = Deno.readTextFileSync(new URL("../../docs/metrics.md", import.meta.url));
  const block = /```promql\n([\s\S]*?)```/.exec(page)?.[1] ?? "";
  const queries: string[] = [];
  for (const line of block.split("\n")) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    if (/^\s/.test(line) && queries.length > 0) queries[queries.length - 1] += ` ${line.trim()}`;
    else queries.push(line.trim());
  }
  return queries;
}

for (const { engine, ignore } of await testEngines("prometheus_test.ts")) {
  Deno.test({
    name: `[${engine.name}] Prometheus scrapes the exporter over OpenMetrics and can query a test container's series`,
    ignore,
    fn: async () => {
      await engine.prepare();
      await using scope = new ContainerScope("prometheus", engine);
      await using exporter = await startExporter({ dockerSocket: engine.socket });
      const { id, name } = await scope.run({ labels: { "com.docker.compose.project": 'prom "q" \\ test' } });
      await using prometheus = await PrometheusServer.start(
        scrapeConfig(`127.0.0.1:${exporter.port}`, "docker-exporter"),
      );
      const instance = { instance: `127.0.0.1:${exporter.port}`, job: "docker-exporter" };

      // Prometheus's service discovery hands over its first targets only after about five seconds.
      const [started] = await waitFor(
        async () => {
          const result = await prometheus.query(`start_time_seconds_container{name="${name}"}`);
          return result.length > 0 && result;
        },
        30_000,
        `start_time_seconds_container{name="${name}"} in Prometheus`,
      );
      assert.deepEqual(started.metric, {
        __name__: "start_time_seconds_container",
        ...instance,
        id,
        name,
        // Podman names the image localhost/docker-exporter-test-busybox:<tag>, Docker without localhost/.
        image: (await engine.inspect(id)).Config.Image,
        container_label_com_docker_compose_project: 'prom "q" \\ test',
      });

      const running = await prometheus.query(`docker_container_state{name="${name}",state="running"} == 1`);
      assert.deepEqual(running.map((r) => r.metric), [{
        __name__: "docker_container_state",
        ...instance,
        id,
        name,
        state: "running",
      }]);

      // The example queries of docs/metrics.md: each is valid PromQL, and the ones about every container find this one.
      const examples = documentedQueries();
      assert.equal(examples.length, 4, examples.join("\n"));
      for (const query of examples) {
        const result = await prometheus.query(query);
        if (!query.includes("unhealthy") && !query.includes("exit_code")) {
          assert.ok(result.length > 0, `docs/metrics.md's ${JSON.stringify(query)} found nothing`);
        }
      }

      const up = await prometheus.query(`up{job="docker-exporter"}`);
      assert.deepEqual(up.map((r) => [r.metric, r.value[1]]), [[{ __name__: "up", ...instance }, "1"]]);
      const scraped = await prometheus.query(`scrape_samples_scraped{job="docker-exporter"}`);
      assert.equal(scraped.length, 1);
      assert.ok(Number(scraped[0].value[1]) > 0, `scrape_samples_scraped is ${scraped[0].value[1]}`);

      // Metadata shows the parser Prometheus used: OpenMetrics names a counter's family without `_total`,
      // the text format with it.
      const metadata = await prometheus.api(
        `targets/metadata?match_target=${encodeURIComponent('{job="docker-exporter"}')}` +
          "&metric=docker_exporter_event_stream_reconnects",
      ) as { type: string }[];
      assert.deepEqual(metadata.map((m) => m.type), ["counter"]);
      const textNamed = await prometheus.api(
        `targets/metadata?match_target=${encodeURIComponent('{job="docker-exporter"}')}` +
          "&metric=docker_exporter_event_stream_reconnects_total",
      );
      assert.deepEqual(textNamed, []);

      const targets = await prometheus.api("targets?state=active") as {
        activeTargets: { health: string; lastError: string; scrapeUrl: string }[];
      };
      assert.deepEqual(
        targets.activeTargets.map((t) => [t.scrapeUrl, t.health, t.lastError]),
        [[`http://127.0.0.1:${exporter.port}/metrics`, "up", ""]],
      );

      await prometheus.stop();
      await exporter.stop();
    },
  });
}
