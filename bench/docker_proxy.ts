/**
 * A logging proxy for the Docker socket: listens on its own unix socket, forwards every byte to the engine's
 * socket, and records each request line (method and path) the client sends. Point the exporter's DOCKER_HOST
 * at it to count the calls it makes to the engine and to prove that they are all GETs.
 *
 * Run alone: `deno run -A bench/docker_proxy.ts --listen /tmp/proxy.sock [--upstream /var/run/docker.sock]`;
 * it prints one line per request (`12.345 GET /v1.41/containers/json?all=1`) and a summary on SIGINT.
 */

const decoder = new TextDecoder();

/** One request seen on the way to the engine. */
export interface ProxiedRequest {
  /** `performance.now()` when its head was complete. */
  atMs: number;
  method: string;
  /** The request target as sent: `/v1.41/containers/json?all=1`. */
  path: string;
}

/** What `DockerProxy.start` needs. */
export interface DockerProxyOptions {
  /** The engine's socket. Default `/var/run/docker.sock`. */
  upstream?: string;
  /** Where to listen; default a fresh path in a temporary directory. */
  listen?: string;
  /** Called for every request as it passes. */
  onRequest?: (request: ProxiedRequest) => void;
}

/** The endpoint a request path names, without the version prefix or query: `/containers/{id}/json` → `inspect`. */
export function operationOf(path: string): string {
  const bare = path.replace(/^\/v\d+\.\d+/, "").split("?")[0];
  if (bare === "/containers/json") return "list";
  if (/^\/containers\/[^/]+\/json$/.test(bare)) return "inspect";
  if (bare === "/events") return "events";
  if (bare === "/version") return "version";
  if (bare === "/info") return "info";
  if (bare === "/_ping") return "ping";
  if (/^\/containers\/[^/]+\/stats$/.test(bare)) return "stats";
  return bare;
}

/** The container a request path is about (`/v1.41/containers/<id>/json` → `<id>`), or `undefined`. */
export function containerIdOf(path: string): string | undefined {
  const match = /^(?:\/v\d+\.\d+)?\/containers\/([^/?]+)\/[a-z]+/.exec(path);
  return match ? decodeURIComponent(match[1]) : undefined;
}

/**
 * Reads request heads out of the bytes a client sends, however they are split. Only bodies with a
 * Content-Length are skipped correctly; a chunked request body (which the exporter never sends) stops the parsing.
 */
export class RequestLineReader {
  #pending = "";
  #skip = 0;
  #lost = false;

  /** Feeds client bytes; returns the `[method, target]` of each request head they completed. */
  push(bytes: Uint8Array): [string, string][] {
    if (this.#lost) return [];
    let text = decoder.decode(bytes, { stream: true });
    if (this.#skip > 0) {
      const skipped = Math.min(this.#skip, text.length);
      this.#skip -= skipped;
      text = text.slice(skipped);
    }
    this.#pending += text;
    const heads: [string, string][] = [];
    let end;
    while (this.#skip === 0 && (end = this.#pending.indexOf("\r\n\r\n")) >= 0) {
      const head = this.#pending.slice(0, end);
      this.#pending = this.#pending.slice(end + 4);
      const [method, target] = head.split("\r\n", 1)[0].split(" ");
      heads.push([method, target]);
      if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
        this.#lost = true;
        return heads;
      }
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (length) {
        const body = Number(length[1]);
        const skipped = Math.min(body, this.#pending.length);
        this.#pending = this.#pending.slice(skipped);
        this.#skip = body - skipped;
      }
    }
    return heads;
  }
}

/** A running proxy. */
export class DockerProxy {
  readonly requests: ProxiedRequest[] = [];
  /** Client connections accepted so far (requests over fewer connections: keep-alive). */
  connections = 0;
  #listener: Deno.Listener | undefined;
  #conns = new Set<Deno.Conn>();

  private constructor(
    readonly path: string,
    readonly upstream: string,
    private readonly onRequest?: (request: ProxiedRequest) => void,
  ) {}

  /** Starts listening. */
  static async start(options: DockerProxyOptions = {}): Promise<DockerProxy> {
    const path = options.listen ?? `${await Deno.makeTempDir({ prefix: "docker-proxy-" })}/docker.sock`;
    const proxy = new DockerProxy(path, options.upstream ?? "/var/run/docker.sock", options.onRequest);
    try {
      Deno.removeSync(path);
    } catch { /* not there */ }
    proxy.#listener = Deno.listen({ transport: "unix", path });
    void proxy.#accept(proxy.#listener);
    return proxy;
  }

  /** `unix://` address for DOCKER_HOST. */
  get url(): string {
    return `unix://${this.path}`;
  }

  /**
   * Requests seen since `fromMs` (a `performance.now()` value), counted by operation; only those `include`
   * accepts, when given (on a shared engine: leave out calls about other people's containers).
   */
  countSince(fromMs = 0, include?: (request: ProxiedRequest) => boolean): Map<string, number> {
    const counts = new Map<string, number>();
    for (const request of this.requests) {
      if (request.atMs < fromMs || (include && !include(request))) continue;
      const key = operationOf(request.path);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return counts;
  }

  /** Every method seen other than GET and HEAD (empty for a read-only client). */
  writeMethods(): string[] {
    return [...new Set(this.requests.map((r) => r.method).filter((m) => m !== "GET" && m !== "HEAD"))];
  }

  /** Stops listening and drops every connection. */
  close(): void {
    this.#listener?.close();
    this.#listener = undefined;
    for (const conn of this.#conns) safeClose(conn);
    this.#conns.clear();
    try {
      Deno.removeSync(this.path);
    } catch { /* already gone */ }
  }

  async #accept(listener: Deno.Listener): Promise<void> {
    try {
      for await (const client of listener) {
        this.connections++;
        void this.#relay(client);
      }
    } catch { /* listener closed */ }
  }

  async #relay(client: Deno.Conn): Promise<void> {
    let engine: Deno.Conn;
    try {
      engine = await Deno.connect({ transport: "unix", path: this.upstream });
    } catch {
      safeClose(client);
      return;
    }
    this.#conns.add(client);
    this.#conns.add(engine);
    const reader = new RequestLineReader();
    const upward = pump(client, engine, (bytes) => {
      for (const [method, path] of reader.push(bytes)) {
        const request = { atMs: performance.now(), method, path };
        this.requests.push(request);
        this.onRequest?.(request);
      }
    });
    const downward = pump(engine, client);
    // Whichever side ends first ends the pair, as a plain socket would.
    await Promise.race([upward, downward]);
    for (const conn of [client, engine]) {
      safeClose(conn);
      this.#conns.delete(conn);
    }
    await Promise.allSettled([upward, downward]);
  }
}

async function pump(from: Deno.Conn, to: Deno.Conn, tap?: (bytes: Uint8Array) => void): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  try {
    for (let n; (n = await from.read(buffer)) !== null;) {
      const bytes = buffer.subarray(0, n);
      tap?.(bytes);
      for (let offset = 0; offset < bytes.length;) offset += await to.write(bytes.subarray(offset));
    }
  } catch { /* either side closed */ }
}

function safeClose(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}

async function runAlone(args: string[]): Promise<void> {
  const option = (name: string) => {
    const at = args.indexOf(name);
    return at >= 0 ? args[at + 1] : undefined;
  };
  const started = performance.now();
  const proxy = await DockerProxy.start({
    listen: option("--listen"),
    upstream: option("--upstream"),
    onRequest: (r) => console.log(`${((r.atMs - started) / 1000).toFixed(3)} ${r.method} ${r.path}`),
  });
  console.error(`proxying ${proxy.url} to unix://${proxy.upstream}`);
  await new Promise<void>((resolve) => {
    Deno.addSignalListener("SIGINT", () => resolve());
    Deno.addSignalListener("SIGTERM", () => resolve());
  });
  const minutes = (performance.now() - started) / 60_000;
  console.error(
    `${proxy.requests.length} requests in ${minutes.toFixed(2)} min:`,
    JSON.stringify(Object.fromEntries(proxy.countSince())),
    `non-GET methods: ${JSON.stringify(proxy.writeMethods())}`,
  );
  proxy.close();
}

if (import.meta.main) await runAlone(Deno.args);
