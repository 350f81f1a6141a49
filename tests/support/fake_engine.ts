/**
 * A scripted Docker engine on a unix socket, for faults the real engine cannot produce on demand:
 * an event stream cut mid-chunk, garbage JSON, HTTP errors, a hung call, an engine that vanishes.
 * It speaks just enough HTTP/1.1 for dockerode and the exporter's own event reader.
 */
import { concatBytes } from "../../lib/shared/bytes.ts";

/** A container as the fake engine stores it: the inspect document. */
export interface FakeContainer {
  Id: string;
  Name: string;
  Image: string;
  Created: string;
  RestartCount: number;
  Config: { Image: string; Labels: Record<string, string> };
  State: {
    Status: string;
    StartedAt: string;
    FinishedAt: string;
    ExitCode: number;
    OOMKilled: boolean;
    Health?: { Status: string; FailingStreak: number };
  };
}

/**
 * What a scripted override answers: a status and JSON body; a status and raw body bytes (not JSON, or huge),
 * optionally cut after `cutAfter` bytes although the Content-Length announces them all, and with `keepOpen` left
 * on an open connection as dockerd leaves it (else the connection is closed after it); a status and a body in
 * `chunks`, chunked, on a connection left open; `wire`, the whole response as it is written, head and all, on a
 * connection then closed unless `keepOpen` (for broken framing); a chunked body that never ends, `start` then
 * `repeat` over and over until the client hangs up (an engine or proxy that sends without end); or `"hang"` to
 * never answer.
 */
export type FakeAnswer =
  | { status: number; body: unknown }
  | { status: number; raw: string | Uint8Array; cutAfter?: number; keepOpen?: boolean }
  | { status: number; chunks: string[] }
  | { wire: string; keepOpen?: boolean }
  | { status: number; endless: { start: string; repeat: string } }
  | "hang";

/** One request the fake engine received. */
export interface FakeRequest {
  method: string;
  path: string;
}

const encoder = new TextEncoder();
const ZERO_TIME = "0001-01-01T00:00:00Z";

/** Builds a running container's inspect document with sensible defaults. */
export function fakeContainer(
  id: string,
  name: string,
  overrides: Partial<FakeContainer["State"]> = {},
): FakeContainer {
  const fullId = id.padEnd(64, "0");
  return {
    Id: fullId,
    Name: `/${name}`,
    Image: "sha256:" + "ab".repeat(32),
    Created: "2026-11-25T10:00:00.000000001Z",
    RestartCount: 0,
    Config: { Image: "busybox:test", Labels: {} },
    State: {
      Status: "running",
      StartedAt: "2026-11-25T10:00:01.5Z",
      FinishedAt: ZERO_TIME,
      ExitCode: 0,
      OOMKilled: false,
      ...overrides,
    },
  };
}

/** The scripted engine. Start with `FakeEngine.start()`, then script it through its fields and methods. */
export class FakeEngine {
  readonly containers = new Map<string, FakeContainer>();
  readonly requests: FakeRequest[] = [];
  /** Answers that replace the normal ones, by operation; consumed in order, one per request. */
  readonly overrides = new Map<"version" | "info" | "list" | "inspect" | "stats" | "events" | "df", FakeAnswer[]>();
  hostname = "fake-host";
  /** `/info`'s DockerRootDir; left out unless set, so the exporter reads no file system for the fake engine. */
  dataRoot: string | undefined;
  apiVersion = "1.41";
  /** Whether the normal answers leave the connection open, as dockerd does; else they close it after them. */
  keepAlive = false;
  #listener: Deno.Listener | undefined;
  /** Set when listening on TCP (127.0.0.1) instead of a unix socket. */
  #tcpPort: number | undefined;
  #conns = new Set<Deno.Conn>();
  /** Connections whose last answer is written, waiting for the next request. */
  #waiting = new Set<Deno.Conn>();
  #eventStreams = new Set<Deno.Conn>();
  #eventWaiters: (() => void)[] = [];

  private constructor(readonly path: string) {}

  /** Starts listening on a fresh socket path in a temporary directory. */
  static async start(path?: string): Promise<FakeEngine> {
    const engine = new FakeEngine(path ?? `${await Deno.makeTempDir({ prefix: "fake-engine-" })}/docker.sock`);
    engine.listen();
    return engine;
  }

  /** Starts listening on TCP at 127.0.0.1 on a free port, as an engine behind a socket proxy. */
  static startTcp(): FakeEngine {
    const engine = new FakeEngine("");
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    engine.#tcpPort = listener.addr.port;
    engine.#listener = listener;
    void engine.#accept(listener);
    return engine;
  }

  /** The address for DOCKER_HOST: `unix:///...`, or `tcp://127.0.0.1:port`. */
  get url(): string {
    return this.#tcpPort === undefined ? `unix://${this.path}` : `tcp://127.0.0.1:${this.#tcpPort}`;
  }

  /** How many connections are open now, event streams included. */
  get openConnections(): number {
    return this.#conns.size;
  }

  /** How many connections were ever accepted. */
  acceptedConnections = 0;

  /** How many event streams are open now. */
  get openEventStreams(): number {
    return this.#eventStreams.size;
  }

  /** (Re)starts listening after `stop()`. */
  listen(): void {
    try {
      Deno.removeSync(this.path);
    } catch { /* not there */ }
    this.#listener = Deno.listen({ transport: "unix", path: this.path });
    void this.#accept(this.#listener);
  }

  /** Stops listening and drops every connection, as a daemon that dies. */
  stop(): void {
    this.#listener?.close();
    this.#listener = undefined;
    for (const conn of this.#conns) safeClose(conn);
    this.#conns.clear();
    this.#eventStreams.clear();
    if (this.#tcpPort !== undefined) return;
    try {
      Deno.removeSync(this.path);
    } catch { /* already gone */ }
  }

  /** Closes every open connection but keeps listening, as an engine or proxy that drops idle keep-alive ones. */
  closeConnections(): void {
    for (const conn of this.#conns) safeClose(conn);
    this.#conns.clear();
    this.#eventStreams.clear();
  }

  /** Resolves once at least `count` event streams are open. */
  async waitForEventStreams(count = 1, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#eventStreams.size < count) {
      if (Date.now() > deadline) throw new Error(`no event stream opened within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.#eventWaiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  /** Sends raw bytes to every open event stream (already chunk-framed, or deliberately not). */
  async sendRaw(bytes: Uint8Array | string): Promise<void> {
    const data = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
    for (const conn of this.#eventStreams) {
      try {
        await writeAll(conn, data);
      } catch {
        this.#eventStreams.delete(conn);
      }
    }
  }

  /**
   * Writes `bytes` on every connection that waits for its next request (not on event streams): bytes no request
   * asked for, which a client must not read as the answer to its next one.
   */
  async sendToIdleConnections(bytes: string): Promise<void> {
    for (const conn of this.#waiting) {
      try {
        await writeAll(conn, encoder.encode(bytes));
      } catch { /* the client hung up */ }
    }
  }

  /** Sends one event object as a chunk, the way dockerd does. */
  sendEvent(event: Record<string, unknown>): Promise<void> {
    return this.sendRaw(eventFrame(event));
  }

  /** Sends a container event for `id` with `action`, stamped `timeMs` (default now). */
  sendAction(id: string, action: string, attributes: Record<string, string> = {}, timeMs?: number): Promise<void> {
    return this.sendEvent(containerEvent(id, action, attributes, timeMs));
  }

  /** Sends many event objects, each its own chunk, in a single write: a burst as fast as the socket takes it. */
  sendEvents(events: readonly Record<string, unknown>[]): Promise<void> {
    return this.sendRaw(concatBytes(events.map(eventFrame)));
  }

  /** Closes every open event stream, optionally after writing `lastBytes` (a cut mid-chunk). */
  async cutEventStreams(lastBytes?: string): Promise<void> {
    if (lastBytes) await this.sendRaw(lastBytes);
    for (const conn of this.#eventStreams) safeClose(conn);
    this.#eventStreams.clear();
  }

  /** Adds (or replaces) a container. */
  add(container: FakeContainer): FakeContainer {
    this.containers.set(container.Id, container);
    return container;
  }

  async #accept(listener: Deno.Listener<Deno.Conn>): Promise<void> {
    try {
      for await (const conn of listener) {
        this.#conns.add(conn);
        this.acceptedConnections++;
        void this.#serve(conn);
      }
    } catch { /* listener closed */ }
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    const buffer = new Uint8Array(16 * 1024);
    let pending = "";
    try {
      serving: while (true) {
        if (pending === "") this.#waiting.add(conn);
        const n = await conn.read(buffer);
        this.#waiting.delete(conn);
        if (n === null) break;
        pending += new TextDecoder().decode(buffer.subarray(0, n));
        let end;
        while ((end = pending.indexOf("\r\n\r\n")) >= 0) {
          const head = pending.slice(0, end);
          pending = pending.slice(end + 4);
          const [method, path] = head.split("\r\n")[0].split(" ");
          this.requests.push({ method, path });
          const keepOpen = await this.#answer(conn, method, path);
          if (keepOpen === "stream") {
            // An event stream or a hung answer: nothing more is answered, but the client hanging up is noticed.
            while ((await conn.read(buffer)) !== null) { /* a client sends nothing more here */ }
            break serving;
          }
        }
      }
    } catch { /* peer went away */ }
    this.#waiting.delete(conn);
    this.#conns.delete(conn);
    safeClose(conn);
  }

  async #answer(conn: Deno.Conn, method: string, fullPath: string): Promise<"stream" | "done"> {
    const path = fullPath.replace(/^\/v\d+\.\d+/, "").split("?")[0];
    const operation = path === "/version"
      ? "version"
      : path === "/info"
      ? "info"
      : path === "/containers/json"
      ? "list"
      : path === "/events"
      ? "events"
      : /^\/containers\/[^/]+\/json$/.test(path)
      ? "inspect"
      : /^\/containers\/[^/]+\/stats$/.test(path)
      ? "stats"
      : path === "/system/df"
      ? "df"
      : undefined;
    const override = operation ? this.overrides.get(operation)?.shift() : undefined;
    if (override === "hang") return "stream";
    if (override && "wire" in override) {
      try {
        await writeAll(conn, encoder.encode(override.wire));
      } catch { /* the client gave up */ }
      if (!override.keepOpen) safeClose(conn);
      return "done";
    }
    if (override && "raw" in override) {
      await this.#writeRaw(conn, override.status, override.raw, override.cutAfter, override.keepOpen);
      return "done";
    }
    if (override && "endless" in override) {
      await this.#writeEndless(conn, override.status, override.endless.start, override.endless.repeat);
      return "done";
    }
    if (override && "chunks" in override) {
      const chunked = override.chunks.map((chunk) => `${encoder.encode(chunk).length.toString(16)}\r\n${chunk}\r\n`);
      await writeAll(
        conn,
        encoder.encode(
          `HTTP/1.1 ${override.status} OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n` +
            `${chunked.join("")}0\r\n\r\n`,
        ),
      );
      return "done";
    }
    if (override) {
      await this.#write(conn, override.status, override.body);
      return "done";
    }
    if (method !== "GET" && method !== "HEAD") {
      await this.#write(conn, 405, { message: "the fake engine is read-only" });
      return "done";
    }
    switch (operation) {
      case "version":
        await this.#write(conn, 200, {
          Version: "99.0.0-fake",
          ApiVersion: this.apiVersion,
          MinAPIVersion: "1.12",
          Os: "linux",
          KernelVersion: "6.0.0-fake",
        }, this.keepAlive);
        return "done";
      case "info":
        await this.#write(conn, 200, {
          Name: this.hostname,
          DockerRootDir: this.dataRoot,
          NCPU: 4,
          MemTotal: 8_343_298_048,
        }, this.keepAlive);
        return "done";
      case "df":
        // Docker 20.10's shape: every container with an empty writable layer, no images, volumes or build cache.
        await this.#write(conn, 200, {
          LayersSize: 0,
          Images: [],
          Containers: Array.from(this.containers.values(), (c) => ({ Id: c.Id, Names: [c.Name], SizeRootFs: 0 })),
          Volumes: [],
          BuildCache: null,
        }, this.keepAlive);
        return "done";
      case "list":
        await this.#write(
          conn,
          200,
          Array.from(this.containers.values(), (c) => ({
            Id: c.Id,
            Names: [c.Name],
            State: c.State.Status,
            Status: c.State.Health ? `Up (${c.State.Health.Status})` : "Up",
          })),
          this.keepAlive,
        );
        return "done";
      case "inspect": {
        const id = decodeURIComponent(path.split("/")[2]);
        const container = this.containers.get(id) ??
          Array.from(this.containers.values()).find((c) => c.Id.startsWith(id));
        if (container) await this.#write(conn, 200, container, this.keepAlive);
        else await this.#write(conn, 404, { message: `No such container: ${id}` }, this.keepAlive);
        return "done";
      }
      case "events":
        await conn.write(
          encoder.encode(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
          ),
        );
        this.#eventStreams.add(conn);
        for (const wake of this.#eventWaiters.splice(0)) wake();
        return "stream";
      default:
        await this.#write(conn, 404, { message: "page not found" }, this.keepAlive);
        return "done";
    }
  }

  /** Answers with a chunked body of `start`, then `repeat` again and again until the client hangs up. */
  async #writeEndless(conn: Deno.Conn, status: number, start: string, repeat: string): Promise<void> {
    const head = `HTTP/1.1 ${status} OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`;
    const frame = (text: string) => encoder.encode(`${encoder.encode(text).length.toString(16)}\r\n${text}\r\n`);
    // Some 64 KiB a chunk, so the socket rather than this loop sets the pace.
    const chunk = frame(repeat.repeat(Math.max(1, Math.floor(65536 / repeat.length))));
    try {
      await writeAll(conn, concatBytes([encoder.encode(head), frame(start)]));
      while (true) await writeAll(conn, chunk);
    } catch { /* the client hung up */ }
  }

  async #write(conn: Deno.Conn, status: number, body: unknown, keepOpen = false): Promise<void> {
    await this.#writeRaw(conn, status, encoder.encode(JSON.stringify(body)), undefined, keepOpen);
  }

  /**
   * Answers with `raw` as the body; with `cutAfter`, only that many body bytes. Closes the connection after it,
   * unless `keepOpen`.
   */
  async #writeRaw(
    conn: Deno.Conn,
    status: number,
    raw: string | Uint8Array,
    cutAfter?: number,
    keepOpen = false,
  ): Promise<void> {
    const body = typeof raw === "string" ? encoder.encode(raw) : raw;
    const head = `HTTP/1.1 ${status} ${status === 200 ? "OK" : "Error"}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${body.length}\r\n${keepOpen ? "" : "Connection: close\r\n"}\r\n`;
    try {
      await writeAll(conn, encoder.encode(head));
      await writeAll(conn, cutAfter === undefined ? body : body.subarray(0, cutAfter));
    } catch { /* the client gave up */ }
    if (!keepOpen) safeClose(conn);
  }
}

/** A container event as dockerd sends it, for `id` and `action`, stamped `timeMs` (default now). */
export function containerEvent(
  id: string,
  action: string,
  attributes: Record<string, string> = {},
  timeMs = Date.now(),
): Record<string, unknown> {
  const timeNano = timeMs * 1e6;
  return {
    Type: "container",
    Action: action,
    Actor: { ID: id, Attributes: attributes },
    scope: "local",
    time: Math.floor(timeNano / 1e9),
    timeNano,
  };
}

/** One event object framed as one HTTP chunk, the way dockerd writes it. */
export function eventFrame(event: Record<string, unknown>): Uint8Array {
  const json = encoder.encode(JSON.stringify(event) + "\n");
  return concatBytes([encoder.encode(json.length.toString(16) + "\r\n"), json, encoder.encode("\r\n")]);
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length;) offset += await conn.write(bytes.subarray(offset));
}

function safeClose(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}
