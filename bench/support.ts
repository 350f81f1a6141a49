/**
 * What the end-to-end benchmarks share: starting the exporter as users run it, reading its memory and CPU
 * from /proc, load with wrk or a fetch loop against 127.0.0.1 only, and medians.
 */
import { fileURLToPath } from "node:url";
import { freePort, REPO_ROOT, startTask, startTaskFlagsFor } from "../tests/support/exporter.ts";
import { concatBytes } from "../lib/shared/bytes.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const MAIN = new URL("main.ts", REPO_ROOT);
/** Jiffies per second for /proc/<pid>/stat; 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

/** How to start the exporter for a benchmark. */
export interface BenchExporterOptions {
  /** The engine (or proxy) socket: DOCKER_HOST=unix://<socket>, and the start task's permissions for it. */
  socket: string;
  /** More environment: EXPORTER_REFRESH_INTERVAL and such. */
  env?: Readonly<Record<string, string>>;
  /** Deno flags added before the start task's, e.g. `--v8-flags=--max-semi-space-size=1` or `--cpu-prof`. */
  denoFlags?: readonly string[];
  /** Changes the start task's flags, e.g. to leave its memory flags out (default: as they are). */
  startFlags?: (flags: string[]) => string[];
  /** How long to wait for /readyz (default 120 s: 10,000 containers take a while). */
  readyTimeoutMs?: number;
  /** Run under this open-files limit, soft and hard alike (`prlimit --nofile=N:N`; Deno raises soft to hard). */
  fileLimit?: number;
  /** Headers for the /readyz probe, e.g. basic-auth credentials. */
  readyHeaders?: Readonly<Record<string, string>>;
}

/** A running exporter process. */
export class BenchExporter implements AsyncDisposable {
  #stderr = "";
  #stdout = "";
  readonly #pumps: Promise<void>[];
  readonly #exited: Promise<Deno.CommandStatus>;
  #done = false;

  constructor(readonly child: Deno.ChildProcess, readonly port: number, readonly spawnedAtMs: number) {
    this.#pumps = [
      (async () => {
        for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) this.#stderr += text;
      })(),
      (async () => {
        for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) this.#stdout += text;
      })(),
    ];
    this.#exited = child.status.finally(() => (this.#done = true));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child.pid;
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** What V8 printed (`--v8-flags=--trace-gc` goes to stdout); the exporter itself writes nothing there. */
  get stdout(): string {
    return this.#stdout;
  }

  /** Resident memory now and at its peak, from /proc/<pid>/status, in MiB. */
  memory(): { rssMiB: number; peakMiB: number } {
    const status = Deno.readTextFileSync(`/proc/${this.pid}/status`);
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
    return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 };
  }

  /** User plus system CPU seconds so far, from /proc/<pid>/stat. */
  cpuSeconds(): number {
    const stat = Deno.readTextFileSync(`/proc/${this.pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after `(comm) `.
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  }

  /** GETs /metrics and returns the text (decompressed when gzip was asked for). */
  async scrape(gzip = false): Promise<string> {
    const response = await fetch(`${this.url}/metrics`, { headers: { "Accept-Encoding": gzip ? "gzip" : "identity" } });
    if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
    return await response.text();
  }

  /** The value of an unlabelled sample in a scrape, e.g. `docker_exporter_containers_tracked`. */
  async sample(name: string): Promise<number | undefined> {
    const text = await this.scrape();
    const match = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
    return match ? Number(match[1]) : undefined;
  }

  /** SIGTERM, then SIGKILL after 5 s; waits for the exit. */
  async stop(): Promise<void> {
    if (!this.#done) {
      try {
        this.child.kill("SIGTERM");
      } catch { /* ended meanwhile */ }
      const timer = setTimeout(() => {
        try {
          this.child.kill("SIGKILL");
        } catch { /* ended meanwhile */ }
      }, 5000);
      await this.#exited;
      clearTimeout(timer);
    }
    await Promise.all(this.#pumps);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/** Starts the exporter on a free port of 127.0.0.1 and waits until /readyz answers 200. */
export async function startBenchExporter(options: BenchExporterOptions): Promise<BenchExporter> {
  const port = freePort();
  const env = Deno.env.toObject();
  for (const name of Object.keys(env)) {
    if (name.startsWith("EXPORTER_") || name.startsWith("DOCKER_")) delete env[name];
  }
  const spawnedAtMs = performance.now();
  // prlimit execs the command, so the child's pid is the exporter's.
  const limited = options.fileLimit !== undefined;
  const child = new Deno.Command(limited ? "prlimit" : Deno.execPath(), {
    args: [
      ...(limited ? [`--nofile=${options.fileLimit}:${options.fileLimit}`, "--", Deno.execPath()] : []),
      "run",
      ...(options.denoFlags ?? []),
      ...(options.startFlags ?? ((flags) => flags))(await startTaskFlagsFor(options.socket)),
      fileURLToPath(MAIN),
    ],
    cwd: fileURLToPath(REPO_ROOT),
    clearEnv: true,
    env: {
      ...env,
      // As `deno task start` sets it (MALLOC_ARENA_MAX).
      ...startTask().env,
      NO_COLOR: "1",
      DOCKER_HOST: `unix://${options.socket}`,
      EXPORTER_HOST: "127.0.0.1",
      EXPORTER_PORT: String(port),
      ...options.env,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const exporter = new BenchExporter(child, port, spawnedAtMs);
  const deadline = performance.now() + (options.readyTimeoutMs ?? 120_000);
  while (true) {
    try {
      const response = await fetch(`${exporter.url}/readyz`, { headers: options.readyHeaders });
      await response.body?.cancel();
      if (response.status === 200) return exporter;
    } catch { /* not listening yet */ }
    const exited = await Promise.race([child.status, sleep(10).then(() => undefined)]);
    if (exited || performance.now() > deadline) {
      await exporter.stop();
      throw new Error(
        `the exporter did not get ready: ${exited ? `exit ${exited.code}` : "timeout"}\n${exporter.stderr}`,
      );
    }
  }
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The `p` quantile (0..1) of `values` by the nearest-rank method. */
export function quantile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/** The median of `values`. */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** Latency percentiles of one load run, in milliseconds. */
export interface LoadResult {
  tool: "wrk" | "fetch";
  requests: number;
  p50: number;
  p99: number;
  max: number;
  requestsPerSecond: number;
  /** Bytes of one response body as sent. */
  bodyBytes: number;
}

/** True when `wrk` is on the PATH. */
export async function haveWrk(): Promise<boolean> {
  try {
    await new Deno.Command("wrk", { args: ["--version"], stdout: "null", stderr: "null" }).output();
    return true;
  } catch {
    return false;
  }
}

/**
 * Closed-loop load on `url` (127.0.0.1 only): `connections` scrapers, each sending its next request as soon as
 * the previous answer is read, for `seconds`. Uses wrk when installed, else a fetch loop in this process.
 */
export async function load(
  url: string,
  options: { connections: number; seconds: number; gzip: boolean; useWrk?: boolean },
): Promise<LoadResult> {
  if (!url.startsWith("http://127.0.0.1:")) throw new Error(`load targets 127.0.0.1 only, not ${url}`);
  const headers = { "Accept-Encoding": options.gzip ? "gzip" : "identity" };
  const probe = await fetch(url, { headers });
  const bodyBytes = Number(probe.headers.get("content-length"));
  await probe.body?.cancel();
  if (options.useWrk ?? await haveWrk()) return await wrk(url, options, bodyBytes);
  const latencies: number[] = [];
  const until = performance.now() + options.seconds * 1000;
  const started = performance.now();
  await Promise.all(Array.from({ length: options.connections }, async () => {
    while (performance.now() < until) {
      const t0 = performance.now();
      const response = await fetch(url, { headers });
      await response.arrayBuffer();
      latencies.push(performance.now() - t0);
    }
  }));
  const elapsed = (performance.now() - started) / 1000;
  return {
    tool: "fetch",
    requests: latencies.length,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    max: Math.max(...latencies),
    requestsPerSecond: latencies.length / elapsed,
    bodyBytes,
  };
}

/**
 * A keep-alive HTTP/1.1 connection to 127.0.0.1 that GETs a path and reads the answer (by its Content-Length)
 * with no more client work than that: `fetch` spends milliseconds per scrape of a few MB, more than the exporter.
 */
export class RawClient {
  readonly #conn: Deno.TcpConn;
  readonly #buffer = new Uint8Array(1 << 20);
  /** Bytes read past the last answer (a keep-alive server sends nothing unasked, so normally none). */
  #pending: Uint8Array = new Uint8Array(0);

  private constructor(conn: Deno.TcpConn, readonly port: number) {
    this.#conn = conn;
  }

  static async connect(port: number): Promise<RawClient> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    return new RawClient(conn, port);
  }

  /** GETs `path`; resolves to the status and the body's length once the whole body has arrived (and was dropped). */
  async get(path: string, headers: Readonly<Record<string, string>>): Promise<{ status: number; length: number }> {
    const { status, length } = await this.#request(path, headers, false);
    return { status, length };
  }

  /** GETs `path`; resolves to the status and the body's bytes as sent (not inflated). */
  async getBody(
    path: string,
    headers: Readonly<Record<string, string>>,
  ): Promise<{ status: number; body: Uint8Array }> {
    const { status, body } = await this.#request(path, headers, true);
    return { status, body: body! };
  }

  async #request(
    path: string,
    headers: Readonly<Record<string, string>>,
    keep: boolean,
  ): Promise<{ status: number; length: number; body?: Uint8Array }> {
    const head = Object.entries({ Host: `127.0.0.1:${this.port}`, ...headers }).map(([k, v]) => `${k}: ${v}\r\n`);
    await this.#conn.write(encoder.encode(`GET ${path} HTTP/1.1\r\n${head.join("")}\r\n`));
    let end: number;
    while ((end = indexOfHeadEnd(this.#pending)) < 0) this.#pending = concatBytes([this.#pending, await this.#read()]);
    const text = decoder.decode(this.#pending.subarray(0, end));
    const status = Number(text.slice(9, 12));
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(text)?.[1]);
    if (!Number.isFinite(length)) throw new Error(`no Content-Length in ${JSON.stringify(text)}`);
    // Unless the body is wanted, only its length matters: count the bytes off as they come instead of keeping them.
    const body = keep ? new Uint8Array(length) : undefined;
    const total = end + 4 + length;
    body?.set(this.#pending.subarray(end + 4, total));
    let filled = Math.min(length, this.#pending.length - end - 4);
    let missing = total - this.#pending.length;
    this.#pending = missing <= 0 ? this.#pending.slice(total) : new Uint8Array(0);
    while (missing > 0) {
      const chunk = await this.#read();
      if (chunk.length > missing) this.#pending = chunk.slice(missing);
      body?.set(chunk.subarray(0, missing), filled);
      filled += Math.min(chunk.length, missing);
      missing -= chunk.length;
    }
    return { status, length, body };
  }

  close(): void {
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  async #read(): Promise<Uint8Array> {
    const n = await this.#conn.read(this.#buffer);
    if (n === null) throw new Error("the server closed the connection");
    return this.#buffer.subarray(0, n);
  }
}

function indexOfHeadEnd(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) return i;
  }
  return -1;
}

/** Options of an in-step run. */
export interface InStepOptions {
  scrapers: number;
  intervalMs: number;
  seconds: number;
  gzip: boolean;
}

/**
 * `scrapers` scrapes sent at the same moment, each on its own keep-alive connection, every `intervalMs`, for
 * `seconds` (to 127.0.0.1 only): how Prometheus servers scraping one exporter collide, rather than `load`'s
 * saturation. Returns the latency of every scrape, and which client sent them: `bench/instep_client.c` when a C
 * compiler is installed (a client in Deno, sharing the 2 cores, added about 1 ms to each p50), else `RawClient`.
 */
export async function inStep(port: number, options: InStepOptions): Promise<{ latencies: number[]; client: string }> {
  const compiled = await compiledInStepClient();
  if (compiled) return { latencies: await inStepWithC(compiled, port, options), client: "C client" };
  return { latencies: await inStepWithDeno(port, options), client: "Deno client (no C compiler)" };
}

let compiling: Promise<string | undefined> | undefined;

/** `bench/instep_client.c` compiled once per run into a temporary directory, or undefined without `cc`. */
function compiledInStepClient(): Promise<string | undefined> {
  return compiling ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "bench-instep-" });
    globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
    const binary = `${dir}/instep_client`;
    try {
      const output = await new Deno.Command("cc", {
        args: ["-O2", "-o", binary, fileURLToPath(new URL("bench/instep_client.c", REPO_ROOT))],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (output.success) return binary;
      console.error(`[bench] cc failed, the in-step figures use the Deno client:\n${decoder.decode(output.stderr)}`);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    return undefined;
  })();
}

async function inStepWithC(binary: string, port: number, options: InStepOptions): Promise<number[]> {
  const args = [port, options.scrapers, options.intervalMs, options.seconds, options.gzip ? "gzip" : "identity"];
  const output = await new Deno.Command(binary, { args: args.map(String), stdout: "piped", stderr: "piped" })
    .output();
  if (!output.success) throw new Error(`${binary} ${args.join(" ")} failed: ${decoder.decode(output.stderr)}`);
  return decoder.decode(output.stdout).trim().split("\n").map(Number);
}

async function inStepWithDeno(port: number, options: InStepOptions): Promise<number[]> {
  const headers = { "Accept-Encoding": options.gzip ? "gzip" : "identity" };
  const clients = await Promise.all(Array.from({ length: options.scrapers }, () => RawClient.connect(port)));
  try {
    const latencies: number[] = [];
    const until = performance.now() + options.seconds * 1000;
    while (performance.now() < until) {
      const round = performance.now();
      await Promise.all(clients.map(async (client) => {
        const t0 = performance.now();
        const { status } = await client.get("/metrics", headers);
        if (status !== 200) throw new Error(`/metrics answered ${status}`);
        latencies.push(performance.now() - t0);
      }));
      await sleep(Math.max(0, options.intervalMs - (performance.now() - round)));
    }
    return latencies;
  } finally {
    for (const client of clients) client.close();
  }
}

async function wrk(
  url: string,
  options: { connections: number; seconds: number; gzip: boolean },
  bodyBytes: number,
): Promise<LoadResult> {
  const args = [
    `-t${Math.min(2, options.connections)}`,
    `-c${options.connections}`,
    `-d${options.seconds}s`,
    "--latency",
    "-H",
    `Accept-Encoding: ${options.gzip ? "gzip" : "identity"}`,
    url,
  ];
  const output = await new Deno.Command("wrk", { args, stdout: "piped", stderr: "piped" }).output();
  const text = decoder.decode(output.stdout);
  if (!output.success) throw new Error(`wrk ${args.join(" ")} failed: ${decoder.decode(output.stderr)}`);
  const ms = (value: string, unit: string) => Number(value) * ({ us: 0.001, ms: 1, s: 1000, m: 60_000 }[unit] ?? NaN);
  const percentile = (p: string) => {
    const match = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m").exec(text);
    if (!match) throw new Error(`no ${p}% line in wrk's output:\n${text}`);
    return ms(match[1], match[2]);
  };
  const max = /^\s+Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s|m)/m.exec(text);
  const requests = /(\d+) requests in/.exec(text);
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(text);
  if (/Non-2xx/.test(text) || /Socket errors/.test(text)) throw new Error(`wrk saw errors:\n${text}`);
  return {
    tool: "wrk",
    requests: Number(requests?.[1]),
    p50: percentile("50"),
    p99: percentile("99"),
    max: max ? ms(max[1], max[2]) : NaN,
    requestsPerSecond: Number(rate?.[1]),
    bodyBytes,
  };
}

/** Describes this machine for the results table: CPU model, cores, memory, kernel, Deno. */
export function machine(): string {
  const cpu = /^model name\s*:\s*(.+)$/m.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1] ?? "unknown CPU";
  const memKiB = Number(/^MemTotal:\s+(\d+)/m.exec(Deno.readTextFileSync("/proc/meminfo"))?.[1]);
  return `${cpu}, ${navigator.hardwareConcurrency} cores, ${
    (memKiB / 1024 / 1024).toFixed(0)
  } GiB RAM, Linux ${Deno.osRelease()}, Deno ${Deno.version.deno}`;
}

/** The 1-minute load average, to show how busy the machine was (other agents share it). */
export function loadAverage(): number {
  return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
}

/** CPU seconds used so far by the engine's processes: dockerd, containerd and every containerd shim. */
export function engineCpuSeconds(): number {
  let ticks = 0;
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    let stat: string;
    try {
      stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
    } catch {
      continue; // exited meanwhile
    }
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    if (comm !== "dockerd" && comm !== "containerd" && !comm.startsWith("containerd-shim")) continue;
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / CLOCK_TICKS;
}
