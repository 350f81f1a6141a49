/**
 * A real Prometheus (Debian's `prometheus` package) on a free port of 127.0.0.1, with a config the test writes
 * and temporary storage, and a small client for its HTTP API.
 */
import assert from "node:assert/strict";
import { waitFor } from "./docker.ts";
import { freePort } from "./exporter.ts";

/** One element of an instant vector. */
export interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** One rule as `/api/v1/rules` lists it. */
export interface LoadedRule {
  type: "alerting" | "recording";
  name: string;
  query: string;
  health: string;
  lastError?: string;
}

/** A Prometheus config scraping `target` (host:port) every second as the job `job`. */
export function scrapeConfig(target: string, job: string): string {
  return [
    "global:",
    "  scrape_interval: 1s",
    "  scrape_timeout: 1s",
    "  evaluation_interval: 1s",
    "scrape_configs:",
    `  - job_name: ${job}`,
    "    static_configs:",
    `      - targets: ["${target}"]`,
    "",
  ].join("\n");
}

/** A running Prometheus. `await using` stops it and removes its files. */
export class PrometheusServer implements AsyncDisposable {
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

  /** What Prometheus has written to stderr so far. */
  get stderr(): string {
    return this.#stderr;
  }

  /**
   * Starts Prometheus with `config` (YAML; JSON is YAML too) as its config file and waits until it is ready.
   * @throws Error with Prometheus's output when it does not get ready within 20 s.
   */
  static async start(config: string): Promise<PrometheusServer> {
    const dir = await Deno.makeTempDir({ prefix: "docker-exporter-prometheus-" });
    await Deno.writeTextFile(`${dir}/prometheus.yml`, config);
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
    const prometheus = new PrometheusServer(url, child, dir);
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

  /**
   * Runs an instant query and returns its vector.
   * @throws AssertionError with Prometheus's error when the query is not valid PromQL or fails.
   */
  async query(promql: string): Promise<VectorSample[]> {
    const response = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = await response.json();
    assert.equal(body.status, "success", `query failed: ${body.error ?? JSON.stringify(body)}\n${promql}`);
    assert.equal(body.data.resultType, "vector", `${promql} is not a vector expression`);
    return body.data.result;
  }

  /** GETs `/api/v1/<path>` and returns its `data`. */
  async api(path: string): Promise<unknown> {
    const response = await fetch(`${this.url}/api/v1/${path}`);
    const body = await response.json();
    assert.equal(body.status, "success", `${path} failed: ${JSON.stringify(body)}`);
    return body.data;
  }

  /** Every rule Prometheus loaded, from `/api/v1/rules`, in file order. */
  async rules(): Promise<LoadedRule[]> {
    const data = await this.api("rules") as { groups: { rules: LoadedRule[] }[] };
    return data.groups.flatMap((group) => group.rules);
  }

  /** SIGTERM, wait for the exit, remove the config and storage. Safe to call twice. */
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
