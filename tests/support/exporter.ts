/**
 * Runs the real exporter as a subprocess, the way users run it: `deno run` with the permission flags of
 * the `start` task in deno.json (read from there, so a test breaks when they drift), listening on a free
 * port on 127.0.0.1. Also parses the text exposition so tests can look series up by label.
 */
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { DOCKER_SOCKET } from "./docker.ts";

/** The repository root (where deno.json and main.ts are). */
export const REPO_ROOT = new URL("../../", import.meta.url);
const MAIN = new URL("main.ts", REPO_ROOT);

const decoder = new TextDecoder();

/** A `NAME=value` word before the command, which `deno task` sets in the command's environment. */
const ENV_WORD = /^([A-Z_][A-Z0-9_]*)=(\S*)$/;

/**
 * A deno.json task's words: the environment its leading `NAME=value` words set, and the command's words, with
 * `$NAME` expanded from `vars` as `deno task` expands it (an unset variable is empty).
 */
export function taskWords(
  task: string,
  vars: (name: string) => string | undefined = (name) => Deno.env.get(name),
): { env: Record<string, string>; words: string[] } {
  const words = task.trim().split(/\s+/).map((word) =>
    word.replace(/\$([A-Z_][A-Z0-9_]*)/g, (_, name) => vars(name) ?? "")
  );
  const env: Record<string, string> = {};
  let match;
  while ((match = ENV_WORD.exec(words[0] ?? ""))) {
    env[match[1]] = match[2];
    words.shift();
  }
  return { env, words };
}

/**
 * The `start` task (`[NAME=value...] deno run <flags> main.ts`): the environment it sets and its Deno flags, in order.
 * @throws Error when the task no longer has that shape, so tests cannot silently run with other flags.
 */
export function startTask(
  vars?: (name: string) => string | undefined,
): { env: Record<string, string>; flags: string[] } {
  const config = JSON.parse(Deno.readTextFileSync(new URL("deno.json", REPO_ROOT)));
  const task: unknown = config.tasks?.start;
  if (typeof task !== "string") throw new Error("deno.json has no `start` task");
  const { env, words } = taskWords(task, vars);
  const flags = words.slice(2, -1);
  if (
    words[0] !== "deno" || words[1] !== "run" || words.at(-1) !== "main.ts" ||
    flags.some((flag) => !flag.startsWith("--") || /["'$`\\]/.test(flag))
  ) {
    throw new Error(
      `the start task is not \`[NAME=value...] deno run --flags... main.ts\` any more: ${JSON.stringify(task)}`,
    );
  }
  return { env, flags };
}

/** The Deno flags of the `start` task (`deno run <flags> main.ts`), in order (see `startTask`). */
export function startTaskFlags(): Promise<string[]> {
  return Promise.resolve(startTask().flags);
}

/** The `start` task's flags with every `/var/run/docker.sock` replaced by `socket` (for DOCKER_HOST=unix://socket). */
export async function startTaskFlagsFor(socket: string): Promise<string[]> {
  return (await startTaskFlags()).map((flag) => flag.replaceAll(DOCKER_SOCKET, socket));
}

/**
 * The environment the exporter starts with: ours without any exporter or Docker setting, plus what the start task
 * sets and `extra`.
 */
function exporterEnv(extra: Readonly<Record<string, string>>): Record<string, string> {
  const env = Deno.env.toObject();
  for (const name of Object.keys(env)) {
    if (name.startsWith("EXPORTER_") || name.startsWith("DOCKER_")) delete env[name];
  }
  return { ...env, ...startTask().env, NO_COLOR: "1", ...extra };
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** How a finished exporter process ended and what it printed. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `deno run <start task flags> main.ts ...args` to completion (for `--help`, `--version`, bad settings).
 * `env` is added to a copy of this process's environment stripped of every EXPORTER_* and DOCKER_* variable.
 */
export async function runExporterCommand(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<CommandResult> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...await startTaskFlags(), fileURLToPath(MAIN), ...args],
    cwd: fileURLToPath(REPO_ROOT),
    clearEnv: true,
    env: exporterEnv(env),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: output.code, stdout: decoder.decode(output.stdout), stderr: decoder.decode(output.stderr) };
}

/** How to start the exporter. */
export interface ExporterOptions {
  /** More environment (EXPORTER_REFRESH_INTERVAL, EXPORTER_CONTAINER_LABELS, ...); EXPORTER_HOST/PORT are set. */
  env?: Readonly<Record<string, string>>;
  /** Command-line arguments after main.ts. */
  args?: readonly string[];
  /**
   * A socket to use instead of /var/run/docker.sock: sets DOCKER_HOST=unix://<socket> and grants the
   * start task's permissions for that path instead.
   */
  dockerSocket?: string;
  /** More paths the exporter may read, added to the start task's `--allow-read` (a `--web.config.file`'s folder). */
  allowRead?: readonly string[];
  /** What to wait for before returning: `/readyz` answering 200 (default), or only `/healthz`. */
  waitFor?: "readyz" | "healthz";
  /** How long to wait for that (default 15 s: the first `deno run` may compile the npm dependencies). */
  startTimeoutMs?: number;
}

/** One raw HTTP response, its body exactly as sent (not decompressed). */
export interface RawResponse {
  status: number;
  headers: Headers;
  body: Uint8Array;
}

/** A running exporter. Stop it with `stop()`; `await using` kills it if a test fails first. */
export class Exporter implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #pumps: Promise<void>[];
  #stderr = "";
  #stdout = "";
  #status: Deno.CommandStatus | undefined;
  readonly #exited: Promise<Deno.CommandStatus>;

  /** The exporter's port on 127.0.0.1. */
  readonly port: number;

  constructor(child: Deno.ChildProcess, port: number) {
    this.#child = child;
    this.port = port;
    this.#exited = child.status.then((status) => (this.#status = status));
    this.#pumps = [
      pump(child.stderr, (text) => (this.#stderr += text)),
      pump(child.stdout, (text) => (this.#stdout += text)),
    ];
  }

  /** `http://127.0.0.1:<port>`. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Everything written to stderr so far (one JSON log line each). */
  get stderr(): string {
    return this.#stderr;
  }

  /** Everything written to stdout so far. */
  get stdout(): string {
    return this.#stdout;
  }

  /** The exit status once the process ended, else `undefined`. */
  get status(): Deno.CommandStatus | undefined {
    return this.#status;
  }

  /** The log lines written so far, parsed. */
  logs(): Record<string, unknown>[] {
    return this.#stderr.split("\n").filter((line) => line !== "").map((line) => {
      try {
        return JSON.parse(line);
      } catch {
        throw new Error(`the exporter wrote a line that is not JSON: ${JSON.stringify(line)}`);
      }
    });
  }

  /**
   * GETs `path` with `fetch`, reads the body and returns the status, headers and text.
   * Asks for `Accept-Encoding: identity` unless `headers` say otherwise: fetch would ask for gzip by itself.
   */
  async get(
    path: string,
    headers: Readonly<Record<string, string>> = {},
  ): Promise<{ status: number; headers: Headers; text: string }> {
    const response = await fetch(this.url + path, { headers: { "Accept-Encoding": "identity", ...headers } });
    return { status: response.status, headers: response.headers, text: await response.text() };
  }

  /**
   * Scrapes `/metrics` and returns its text; asserts a 200 answer.
   * `openMetrics` asks for OpenMetrics with the Accept header Prometheus sends.
   */
  async scrape(options: { openMetrics?: boolean } = {}): Promise<string> {
    const accept = options.openMetrics
      ? "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75," +
        "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
      : "text/plain;version=0.0.4";
    const { status, text } = await this.get("/metrics", { Accept: accept });
    assert.equal(status, 200, `/metrics answered ${status}: ${text}`);
    return text;
  }

  /** Scrapes `/metrics` and parses its samples. */
  async samples(): Promise<ParsedSample[]> {
    return parseSamples(await this.scrape());
  }

  /**
   * GETs `path` over a plain TCP connection and returns the body bytes as sent, where `fetch` would
   * decompress them. Handles bodies with a Content-Length (the exporter always sends one).
   */
  async rawGet(path: string, headers: Readonly<Record<string, string>> = {}): Promise<RawResponse> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: this.port });
    let bytes = new Uint8Array(0);
    try {
      const head = Object.entries({ Host: `127.0.0.1:${this.port}`, Connection: "close", ...headers })
        .map(([key, value]) => `${key}: ${value}\r\n`).join("");
      await conn.write(new TextEncoder().encode(`GET ${path} HTTP/1.1\r\n${head}\r\n`));
      const buffer = new Uint8Array(65536);
      for (let n; (n = await conn.read(buffer)) !== null;) {
        const next = new Uint8Array(bytes.length + n);
        next.set(bytes);
        next.set(buffer.subarray(0, n), bytes.length);
        bytes = next;
      }
    } finally {
      conn.close();
    }
    const split = bytes.findIndex((_, i) =>
      bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10
    );
    assert.ok(split > 0, "no end of HTTP head in the response");
    const [statusLine, ...headerLines] = decoder.decode(bytes.subarray(0, split)).split("\r\n");
    const responseHeaders = new Headers();
    for (const line of headerLines) {
      const colon = line.indexOf(":");
      responseHeaders.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    const body = bytes.subarray(split + 4);
    const length = responseHeaders.get("content-length");
    assert.ok(!/chunked/i.test(responseHeaders.get("transfer-encoding") ?? ""), "rawGet does not decode chunked");
    if (length !== null) assert.equal(body.length, Number(length), "body length differs from Content-Length");
    return { status: Number(statusLine.split(" ")[1]), headers: responseHeaders, body };
  }

  /**
   * Sends `signal` and waits for the process to end; asserts it exits with status 0 within `withinMs`.
   * Returns how long it took.
   */
  async stop(signal: "SIGTERM" | "SIGINT" = "SIGTERM", withinMs = 3000): Promise<number> {
    const started = performance.now();
    if (this.#status === undefined) {
      try {
        this.#child.kill(signal);
      } catch { /* it ended meanwhile; its status tells how */ }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), withinMs)));
    const outcome = await Promise.race([this.#exited, timedOut]);
    clearTimeout(timer);
    const elapsed = performance.now() - started;
    if (outcome === "timeout") {
      await this.kill();
      assert.fail(`the exporter did not exit within ${withinMs} ms of ${signal}; stderr:\n${this.#stderr}`);
    }
    await Promise.all(this.#pumps);
    assert.equal(outcome.code, 0, `the exporter exited with ${outcome.code} after ${signal}; stderr:\n${this.#stderr}`);
    return elapsed;
  }

  /** Kills the process (SIGKILL) if it still runs and waits for it; no assertions. */
  async kill(): Promise<void> {
    if (this.#status === undefined) {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* it ended meanwhile */ }
    }
    await this.#exited;
    await Promise.all(this.#pumps);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.kill();
  }

  /** Resolves when the process ends. */
  get exited(): Promise<Deno.CommandStatus> {
    return this.#exited;
  }
}

async function pump(stream: ReadableStream<Uint8Array>, append: (text: string) => void): Promise<void> {
  for await (const text of stream.pipeThrough(new TextDecoderStream())) append(text);
}

/**
 * Starts the exporter on a free port of 127.0.0.1 and waits until it answers `/readyz` (or `/healthz`).
 * @throws Error with its stderr when it exits or does not get ready in time.
 */
export async function startExporter(options: ExporterOptions = {}): Promise<Exporter> {
  const flags = options.dockerSocket ? await startTaskFlagsFor(options.dockerSocket) : await startTaskFlags();
  if (options.allowRead?.length) {
    const read = flags.findIndex((flag) => flag.startsWith("--allow-read="));
    if (read < 0) throw new Error("the start task has no --allow-read=");
    flags[read] += `,${options.allowRead.join(",")}`;
  }
  const docker: Record<string, string> = options.dockerSocket ? { DOCKER_HOST: `unix://${options.dockerSocket}` } : {};
  // The free port may be taken between our probe and the exporter's listen; then try another.
  for (let attempt = 1;; attempt++) {
    const port = freePort();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...flags, fileURLToPath(MAIN), ...(options.args ?? [])],
      cwd: fileURLToPath(REPO_ROOT),
      clearEnv: true,
      env: exporterEnv({ ...docker, ...options.env, EXPORTER_HOST: "127.0.0.1", EXPORTER_PORT: String(port) }),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const exporter = new Exporter(child, port);
    const path = options.waitFor === "healthz" ? "/healthz" : "/readyz";
    const timeoutMs = options.startTimeoutMs ?? 15_000;
    const deadline = performance.now() + timeoutMs;
    while (true) {
      if (exporter.status !== undefined) break;
      try {
        const response = await fetch(exporter.url + path);
        await response.body?.cancel();
        if (response.status === 200) return exporter;
      } catch {
        // Not listening yet.
      }
      if (performance.now() > deadline) {
        await exporter.kill();
        throw new Error(
          `the exporter did not answer 200 on ${path} within ${timeoutMs} ms; stderr:\n${exporter.stderr}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await exporter.kill();
    if (attempt < 3 && exporter.stderr.includes("another process uses that port")) continue;
    throw new Error(`the exporter exited with ${exporter.status?.code} before ${path}; stderr:\n${exporter.stderr}`);
  }
}

/** One sample of the text exposition: metric name, labels and value. */
export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Parses the samples of a text (0.0.4) or OpenMetrics exposition, unescaping label values.
 * Comment lines are skipped.
 * @throws Error on a sample line it cannot read.
 */
export function parseSamples(text: string): ParsedSample[] {
  const samples: ParsedSample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
    if (!name) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    let i = name.length;
    if (line[i] === "{") {
      i++;
      while (line[i] !== "}") {
        const key = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i))?.[0];
        if (!key || line.slice(i + key.length, i + key.length + 2) !== '="') {
          throw new Error(`bad label at ${i} in ${JSON.stringify(line)}`);
        }
        i += key.length + 2;
        let value = "";
        for (; line[i] !== '"'; i++) {
          if (i >= line.length) throw new Error(`unterminated label value in ${JSON.stringify(line)}`);
          if (line[i] === "\\") {
            const escaped = line[++i];
            value += escaped === "n" ? "\n" : escaped;
          } else {
            value += line[i];
          }
        }
        labels[key] = value;
        i++;
        if (line[i] === ",") i++;
      }
      i++;
    }
    const rest = line.slice(i);
    if (!rest.startsWith(" ")) throw new Error(`no value in ${JSON.stringify(line)}`);
    const valueText = rest.trim().split(" ")[0];
    const value = valueText === "+Inf" ? Infinity : valueText === "-Inf" ? -Infinity : Number(valueText);
    if (Number.isNaN(value) && valueText !== "NaN") throw new Error(`bad value in ${JSON.stringify(line)}`);
    samples.push({ name, labels, value });
  }
  return samples;
}

/** The samples named `name` whose labels include every pair in `match`. */
export function findSamples(
  samples: readonly ParsedSample[],
  name: string,
  match: Readonly<Record<string, string>> = {},
): ParsedSample[] {
  return samples.filter((sample) =>
    sample.name === name && Object.entries(match).every(([key, value]) => sample.labels[key] === value)
  );
}

/** The value of the one sample named `name` matching `match`; `undefined` when there is none. Throws on several. */
export function sampleValue(
  samples: readonly ParsedSample[],
  name: string,
  match: Readonly<Record<string, string>> = {},
): number | undefined {
  const found = findSamples(samples, name, match);
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(match)}`);
  return found[0]?.value;
}
