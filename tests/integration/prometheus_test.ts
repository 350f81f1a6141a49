/**
 * A real Prometheus (Debian's `prometheus` package) scrapes the real exporter every second, and its
 * HTTP API is asked for the series of a test container. Proves the output is accepted, stored and
 * queryable as users will query it, with OpenMetrics negotiated as Prometheus does. Once against Docker and
 * once against Podman's Docker-compatible service.
 */
import assert from "node:assert/strict";
import { ContainerScope, waitFor } from "../support/docker.ts";
import { testEngines } from "../support/engines.ts";
import { freePort, startExporter } from "../support/exporter.ts";

interface VectorResult {
  metric: Record<string, string>;
  value: [number, string];
}

/** A Prometheus server on 127.0.0.1 with a temporary config and storage, removed by `stop()`. */
class Prometheus implements AsyncDisposable {
  #stderr = "";
  readonly #pump: Promise<void>;
  readonly #status: Promise<Deno.CommandStatus>;
  #stopped = false;

  private constructor(readonly url: string, private readonly child: Deno.ChildProcess, private readonly dir: string) {
    this.#pump = (async () => {
      for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) this.#stderr += text;
    })();
    this.#status = child.status;
  }

  /** Starts Prometheus scraping `target` (host:port) every second and waits until it is ready. */
  static async start(target: string): Promise<Prometheus> {
    const dir = await Deno.makeTempDir({ prefix: "docker-exporter-prometheus-" });
    await Deno.writeTextFile(
      `${dir}/prometheus.yml`,
      [
        "global:",
        "  scrape_interval: 1s",
        "  scrape_timeout: 1s",
        "  evaluation_interval: 1s",
        "scrape_configs:",
        "  - job_name: docker-exporter",
        "    static_configs:",
        `      - targets: ["${target}"]`,
        "",
      ].join("\n"),
    );
    const url = `http://127.0.0.1:${freePort()}`;
    const child = new Deno.Command("prometheus", {
      args: [
        `--config.file=${dir}/prometheus.yml`,
        `--web.listen-address=${url.slice("http://".length)}`,
        `--storage.tsdb.path=${dir}/data`,
        "--log.level=warn",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const prometheus = new Prometheus(url, child, dir);
    try {
      await waitFor(
        async () => {
          const response = await fetch(`${url}/-/ready`);
          await response.body?.cancel();
          return response.ok;
        },
        20_000,
        "Prometheus to get ready",
      );
    } catch (error) {
      await prometheus.stop();
      throw new Error(`${(error as Error).message}; Prometheus wrote:\n${prometheus.#stderr}`);
    }
    return prometheus;
  }

  /** Runs an instant query and returns its vector. */
  async query(promql: string): Promise<VectorResult[]> {
    const response = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = await response.json();
    assert.equal(body.status, "success", `query ${promql} failed: ${JSON.stringify(body)}`);
    assert.equal(body.data.resultType, "vector");
    return body.data.result;
  }

  /** GETs an API path and returns its `data`. */
  async api(path: string): Promise<unknown> {
    const response = await fetch(`${this.url}/api/v1/${path}`);
    const body = await response.json();
    assert.equal(body.status, "success", `${path} failed: ${JSON.stringify(body)}`);
    return body.data;
  }

  /** SIGTERM, wait for the exit, remove the config and storage. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    try {
      this.child.kill("SIGTERM");
    } catch { /* already ended */ }
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await this.#status;
    clearTimeout(timer);
    await this.#pump;
    await Deno.remove(this.dir, { recursive: true });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
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
      await using prometheus = await Prometheus.start(`127.0.0.1:${exporter.port}`);
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
