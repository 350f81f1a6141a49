/**
 * The exporter's HTTP/1.1 server, on `Deno.listen` or `Deno.listenTls`, in front of a plain
 * `(request: Request) => Promise<Response>` handler. It exists because the network must not be able to take the
 * exporter down, and `Deno.serve` has no header or idle timeout, no connection cap, and ends for good on a failed
 * accept. Here:
 * - at most `maxConnections` connections are open; at the cap, a new one takes the place of the connection that has
 *   waited longest for a request, so that idle or slow clients cannot keep Prometheus out; connections that have never
 *   been given a successful answer go first, so that a flood of new connections (or of wrong passwords) does not close
 *   the one Prometheus keeps alive between scrapes; when every open connection is being answered, the new one is
 *   refused at once (a 503 over plain HTTP);
 * - a request head must arrive whole within `headerTimeoutMs` (of the connection opening, or of its first byte), and
 *   within `maxHeadBytes`; a kept-alive connection may wait `idleTimeoutMs` for its next request;
 * - a client that stops reading its answer for `writeTimeoutMs`, or takes longer than `responseTimeoutMs` for all of
 *   it, is cut off;
 * - a failed accept (out of file descriptors) is counted, logged at a bounded rate and survived: the connection that
 *   would be evicted is closed to free a descriptor, and the cap is lowered below where the process ran out, until
 *   accepts have gone well for a while;
 * - request bodies are not read: GET and HEAD with a body get 400, other methods their answer and a closed connection.
 * Everything turned away is counted in `stats.httpRefusals` by reason.
 */
import { concatBytes, type Logger, RateLimitedLog } from "../shared/mod.ts";
import type { ExporterStats, HttpRefusalReason } from "../engine/mod.ts";
import {
  BadRequestError,
  bodyFraming,
  DEFAULT_HEAD_LIMITS,
  encodeResponseHead,
  HeadReader,
  httpDate,
  type RequestHead,
} from "./request.ts";

/** Where and how to serve. */
export interface HttpServerOptions {
  hostname: string;
  port: number;
  /** PEM certificate chain and key: serve HTTPS. */
  tls?: { cert: string; key: string };
  handler: (request: Request) => Promise<Response>;
  /** Aborting it stops accepting, closes waiting connections, and lets answers under way finish. */
  signal: AbortSignal;
  logger: Logger;
  /** Where connections and refusals are counted. */
  stats: ExporterStats;
  maxConnections: number;
  /** Called once listening, with the address actually bound. */
  onListen?: (address: { hostname: string; port: number }) => void;
  now?: () => number;
  /** Limits and timeouts; the defaults are `DEFAULT_SERVER_LIMITS`. */
  limits?: Partial<ServerLimits>;
}

/** The server's limits, in milliseconds and bytes. */
export interface ServerLimits {
  /** How long a request head may take to arrive whole, from the connection opening or from its first byte. */
  headerTimeoutMs: number;
  /** How long a kept-alive connection may wait for its next request. */
  idleTimeoutMs: number;
  /** How long a client may leave its answer unread before it is cut off. */
  writeTimeoutMs: number;
  /** How long a client may take to read a whole answer, however steadily it reads. */
  responseTimeoutMs: number;
  maxHeadBytes: number;
  maxHeaders: number;
}

/**
 * A few seconds for a head, as Prometheus sends its request at once; 20 s between requests, longer than the
 * default 15 s scrape interval, so that Prometheus keeps its connection (and TLS session) from scrape to scrape.
 */
export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  headerTimeoutMs: 5_000,
  idleTimeoutMs: 20_000,
  writeTimeoutMs: 20_000,
  // 30 MB, a plain scrape of 10,000 containers, at 0.5 MB/s.
  responseTimeoutMs: 60_000,
  maxHeadBytes: DEFAULT_HEAD_LIMITS.maxBytes,
  maxHeaders: DEFAULT_HEAD_LIMITS.maxHeaders,
};

/** Descriptors left for everything else (the engine's connections, files) when the cap is lowered after EMFILE. */
const DESCRIPTOR_RESERVE = 16;
/** How long accepts must go well after running out of descriptors before the cap is raised back. */
const CAP_RECOVERY_MS = 30_000;
/** Accept errors that mean the process is out of a resource: a connection is closed to free one, and accepting pauses. */
const RESOURCE_ERRORS = new Set(["EMFILE", "ENFILE", "ENOBUFS", "ENOMEM"]);
/** The cap is never lowered below this. */
const MIN_CONNECTIONS = 4;
/** How long accepting pauses after a failed accept, at first and at most (it doubles while accepts keep failing). */
const ACCEPT_PAUSE_MS = { first: 10, max: 1_000 };
/**
 * Accepts handled before the accept loop lets the event loop run. An accept whose connection is already waiting
 * completes without a turn of the event loop, so under a flood of connections the loop could take in hundreds, each
 * evicting the longest-waiting one, before the reads of those it took in were delivered: a client that had sent its
 * request at once would be evicted as if idle.
 */
const ACCEPTS_PER_TURN = 16;
/** The most read from a connection at a time. */
const READ_BYTES = 8 * 1024;
/** Bodies without a Content-Length are read whole to give them one; the exporter's own are a few hundred bytes. */
const MAX_UNSIZED_BODY_BYTES = 1024 * 1024;

const encoder = new TextEncoder();

/** What a connection over the cap is told before it is closed. */
const REFUSAL_TEXT = "Too many connections are being answered; try again soon.\n";
const REFUSAL = encoder.encode(
  encodeResponseHead(503, [
    ["content-type", "text/plain; charset=utf-8"],
    ["content-length", String(REFUSAL_TEXT.length)],
    ["retry-after", "1"],
    ["connection", "close"],
  ]) + REFUSAL_TEXT,
);

/** A running server. */
export interface HttpServer {
  /** The address bound: the port is the real one when 0 was asked for. */
  readonly address: { hostname: string; port: number };
  /** Resolves once the server has stopped accepting and every connection is closed. */
  readonly finished: Promise<void>;
  /** Connections open now. */
  readonly connections: number;
  /** The cap in force (lowered when the process ran out of descriptors). */
  readonly maxConnections: number;
}

/**
 * Listens and serves until `signal` aborts.
 * @throws what `Deno.listen`/`Deno.listenTls` throw (`AddrInUse`, `NotCapable`, a bad certificate or key) at once.
 */
export function serveHttp(options: HttpServerOptions): HttpServer {
  const listener = options.tls
    ? Deno.listenTls({
      hostname: options.hostname,
      port: options.port,
      cert: options.tls.cert,
      key: options.tls.key,
      alpnProtocols: ["http/1.1"],
    })
    : Deno.listen({ hostname: options.hostname, port: options.port });
  const server = new Server(listener, options);
  const address = listener.addr as Deno.NetAddr;
  options.onListen?.({ hostname: address.hostname, port: address.port });
  return server;
}

/** One open connection and what it is doing. */
interface Connection {
  conn: Deno.Conn;
  /** When it began waiting for a request head; `undefined` while a request is being answered. */
  waitingSinceMs: number | undefined;
  /** Bytes of a head received while waiting (a kept-alive connection with none is idle). */
  headBytes: number;
  /** Whether it has been given a successful (2xx or 3xx) answer: such a connection is evicted last. */
  answered: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** When the answer being written must be written by, however steadily the client reads. */
  deadlineMs: number;
  /** Set when a timer has given up on it, though a read or write of it may still be under way. */
  closing: boolean;
  closed: boolean;
}

class Server implements HttpServer {
  readonly #listener: Deno.Listener;
  readonly #options: HttpServerOptions;
  readonly #limits: ServerLimits;
  readonly #now: () => number;
  readonly #open = new Set<Connection>();
  readonly #acceptErrors: RateLimitedLog;
  #maxConnections: number;
  /** When an accept last failed for want of a resource; the cap stays lowered until long enough after. */
  #lastResourceErrorMs = -Infinity;
  #allClosed: (() => void) | undefined;
  readonly finished: Promise<void>;

  constructor(listener: Deno.Listener, options: HttpServerOptions) {
    this.#listener = listener;
    this.#options = options;
    this.#limits = { ...DEFAULT_SERVER_LIMITS, ...options.limits };
    this.#now = options.now ?? Date.now;
    this.#maxConnections = options.maxConnections;
    this.#acceptErrors = new RateLimitedLog(
      (msg, fields) => options.logger.warn(msg, fields),
      "cannot accept a connection; closing a waiting one and pausing",
      10_000,
      this.#now,
    );
    const onAbort = () => this.#stop();
    options.signal.addEventListener("abort", onAbort, { once: true });
    if (options.signal.aborted) this.#stop();
    this.finished = this.#acceptLoop()
      // Nothing escapes the loop but a failing logger; the server stops either way.
      .catch(() => {})
      .finally(() => options.signal.removeEventListener("abort", onAbort));
  }

  get address(): { hostname: string; port: number } {
    const { hostname, port } = this.#listener.addr as Deno.NetAddr;
    return { hostname, port };
  }

  get connections(): number {
    return this.#open.size;
  }

  get maxConnections(): number {
    return this.#maxConnections;
  }

  async #acceptLoop(): Promise<void> {
    let pauseMs = 0;
    for (let accepted = 1; !this.#options.signal.aborted; accepted++) {
      if (accepted % ACCEPTS_PER_TURN === 0) await new Promise((resolve) => setTimeout(resolve, 0));
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
        pauseMs = 0;
      } catch (error) {
        if (this.#options.signal.aborted || error instanceof Deno.errors.BadResource) break;
        if (this.#acceptFailed(error)) {
          pauseMs = Math.min(ACCEPT_PAUSE_MS.max, Math.max(ACCEPT_PAUSE_MS.first, pauseMs * 2));
          await new Promise((resolve) => setTimeout(resolve, pauseMs));
        }
        continue;
      }
      this.#admit(conn);
    }
    if (this.#open.size > 0) await new Promise<void>((resolve) => (this.#allClosed = resolve));
  }

  /**
   * Counts and logs a failed accept. Out of a resource (descriptors, buffers): frees one by closing the connection
   * that would be evicted for a new one, lowers the cap below where it happened, and returns true so that accepting pauses. Any
   * other failure (a connection reset before it was taken) concerns that connection alone.
   */
  #acceptFailed(error: unknown): boolean {
    this.#options.stats.httpAcceptErrors++;
    this.#acceptErrors.report({ error, connections: this.#open.size });
    if (!RESOURCE_ERRORS.has((error as { code?: string }).code ?? "")) return false;
    this.#lastResourceErrorMs = this.#now();
    const lowered = Math.max(MIN_CONNECTIONS, this.#open.size - DESCRIPTOR_RESERVE);
    if (lowered < this.#maxConnections) {
      this.#maxConnections = lowered;
      this.#options.logger.warn("out of file descriptors: lowering the connection limit", { max_connections: lowered });
    }
    const victim = this.#evictionVictim();
    if (victim) this.#close(victim, "evicted");
    return true;
  }

  #admit(conn: Deno.Conn): void {
    const configured = this.#options.maxConnections;
    if (this.#maxConnections < configured && this.#now() - this.#lastResourceErrorMs >= CAP_RECOVERY_MS) {
      this.#maxConnections = configured;
      this.#options.logger.info("accepting connections again up to the connection limit", {
        max_connections: configured,
      });
    }
    while (this.#open.size >= this.#maxConnections) {
      const victim = this.#evictionVictim();
      if (!victim) {
        this.#count("connection_limit");
        this.#refuse(conn);
        return;
      }
      this.#close(victim, "evicted");
    }
    const connection: Connection = {
      conn,
      waitingSinceMs: undefined,
      headBytes: 0,
      answered: false,
      timer: undefined,
      deadlineMs: Infinity,
      closing: false,
      closed: false,
    };
    this.#open.add(connection);
    // #serve catches everything but a failing logger; the connection is closed either way.
    void this.#serve(connection).catch(() => this.#close(connection));
  }

  /**
   * The waiting connection to close for a new one, if any waits: the one that has waited longest among those never
   * given a successful answer, else the one that has waited longest. A client has to be served (and, with basic auth,
   * to know the password) before its connection outranks a stranger's.
   */
  #evictionVictim(): Connection | undefined {
    let oldest: Connection | undefined;
    for (const connection of this.#open) {
      const since = connection.waitingSinceMs;
      if (since === undefined) continue;
      if (
        oldest === undefined ||
        (oldest.answered && !connection.answered) ||
        (oldest.answered === connection.answered && since < oldest.waitingSinceMs!)
      ) oldest = connection;
    }
    return oldest;
  }

  /**
   * Closes a connection over the cap; over plain HTTP a 503 goes first, for whoever debugs the client. It fits in the
   * socket's send buffer, so the write does not wait on the client; over TLS it would need a handshake first.
   */
  #refuse(conn: Deno.Conn): void {
    if (this.#options.tls) return closeQuietly(conn);
    conn.write(REFUSAL).catch(() => {}).finally(() => closeQuietly(conn));
  }

  /** Serves requests on one connection until either side closes it, a limit is hit, or the server stops. */
  async #serve(connection: Connection): Promise<void> {
    const { conn } = connection;
    const buffer = new Uint8Array(READ_BYTES);
    const reader = new HeadReader({ maxBytes: this.#limits.maxHeadBytes, maxHeaders: this.#limits.maxHeaders });
    let first = true;
    try {
      while (!connection.closed && !this.#options.signal.aborted) {
        // A pipelined request may be whole already. Otherwise the first head must arrive whole within the header
        // timeout of the connection opening; a kept-alive connection may wait the idle timeout for the first byte of
        // its next head, then the header timeout for the rest.
        let head = reader.take();
        const idle = !first && head === undefined && reader.length === 0;
        this.#startWaiting(connection, idle, reader.length);
        while (head === undefined) {
          let n: number | null;
          try {
            n = await conn.read(buffer);
          } catch {
            n = null; // Reset by the client, a failed TLS handshake, or closed by a timer of ours.
          }
          if (n === null || connection.closing || connection.closed) return;
          if (idle && connection.headBytes === 0) this.#arm(connection, this.#limits.headerTimeoutMs, "header_timeout");
          reader.push(buffer.subarray(0, n));
          connection.headBytes = reader.length;
          head = reader.take();
        }
        first = false;
        this.#busy(connection);
        if (!(await this.#answer(connection, head))) break;
      }
    } catch (error) {
      if (error instanceof BadRequestError) {
        this.#count("bad_request");
        await this.#writeQuietly(connection, plainResponse(400, `Bad request: ${error.message}.\n`));
      } else {
        this.#options.logger.error("HTTP connection failed", { error });
      }
    } finally {
      this.#close(connection);
    }
  }

  /**
   * Answers one request; returns whether the connection may carry another.
   * @throws BadRequestError for body framing that cannot be served.
   */
  async #answer(connection: Connection, head: RequestHead): Promise<boolean> {
    const framing = bodyFraming(head);
    const connectionTokens = head.headers.filter(([name]) => name === "connection")
      .flatMap(([, value]) => value.toLowerCase().split(",").map((token) => token.trim()));
    const getOrHead = head.method === "GET" || head.method === "HEAD";
    if (getOrHead && framing.kind !== "none") throw new BadRequestError("a GET or HEAD request with a body");
    // HTTP/1.1 requires exactly one Host (RFC 9112 §3.2); a proxy in front may read a second one otherwise.
    const hosts = head.headers.filter(([name]) => name === "host").length;
    if (head.version === "1.1" ? hosts !== 1 : hosts > 1) throw new BadRequestError("not exactly one Host header");
    // A body is never read, so the connection ends after a request that has one; HTTP/1.0 asks for it by default.
    const keepOpen = framing.kind === "none" && head.version === "1.1" && !connectionTokens.includes("close") &&
      !this.#options.signal.aborted;
    let response: Response;
    const request = this.#request(head);
    if (request === undefined) {
      response = plainResponse(405, "Method not allowed. Use GET or HEAD.\n", { Allow: "GET, HEAD" });
    } else {
      try {
        response = await this.#options.handler(request);
      } catch (error) {
        this.#options.logger.error("request failed", { error });
        response = plainResponse(500, "internal error\n");
      }
    }
    const written = await this.#write(connection, response, head.method === "HEAD", keepOpen);
    if (written && response.status < 400) connection.answered = true;
    return written && keepOpen;
  }

  /**
   * The `Request` for a head; `undefined` for a method it cannot carry as sent: CONNECT, TRACE and TRACK, and a method
   * in lower case, which HTTP keeps apart (`get` is not GET) while a `Request` would make it GET.
   */
  #request(head: RequestHead): Request | undefined {
    if (head.method !== head.method.toUpperCase()) return undefined;
    let url: URL;
    try {
      // A path is appended to the origin, not resolved against it: `//host/x` and `/\\host/x` stay paths.
      url = head.target.startsWith("/") ? new URL(`http://localhost${head.target}`) : new URL(head.target);
      if (head.target.startsWith("/") && url.host !== "localhost") throw new Error("not a path");
    } catch {
      throw new BadRequestError("a request target that is not a path or an http URL");
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new BadRequestError("a request target that is not a path or an http URL");
    }
    const headers = new Headers();
    for (const [name, value] of head.headers) headers.append(name, value);
    try {
      return new Request(url, { method: head.method, headers });
    } catch {
      return undefined;
    }
  }

  /**
   * Writes a response; returns false when the connection was cut (the client went away or stopped reading).
   * A body with a Content-Length is streamed; one without is read whole first to give it one.
   */
  async #write(connection: Connection, response: Response, headOnly: boolean, keepOpen: boolean): Promise<boolean> {
    const headers = new Map<string, string>();
    for (const [name, value] of response.headers) headers.set(name, value);
    headers.set("date", httpDate(this.#now()));
    // The server may have begun to stop while the handler answered.
    const closing = !keepOpen || this.#options.signal.aborted;
    if (closing) headers.set("connection", "close");
    connection.deadlineMs = this.#now() + this.#limits.responseTimeoutMs;
    let body: Uint8Array | undefined;
    if (headOnly) await response.body?.cancel();
    else if (!/^\d{1,15}$/.test(headers.get("content-length") ?? "")) {
      body = response.body ? await readWhole(response.body) : new Uint8Array(0);
      headers.set("content-length", String(body.length));
    }
    const headBytes = encoder.encode(encodeResponseHead(response.status, headers));
    if (headOnly || body) {
      return await this.#send(connection, body && body.length > 0 ? concatBytes([headBytes, body]) : headBytes);
    }
    if (!(await this.#send(connection, headBytes))) {
      await response.body?.cancel();
      return false;
    }
    const declared = Number(headers.get("content-length"));
    let sent = 0;
    const reader = response.body?.getReader();
    try {
      for (let next; reader && !(next = await reader.read()).done;) {
        // Never more than the Content-Length: the rest would be read as the next answer.
        const piece = next.value.subarray(0, declared - sent);
        sent += piece.length;
        if (!(await this.#send(connection, piece))) return false;
        if (piece.length < next.value.length) return false;
      }
    } finally {
      reader?.releaseLock();
      await response.body?.cancel().catch(() => {});
    }
    // A body shorter than its Content-Length leaves the client waiting for the rest: the connection must end.
    return sent === declared && !closing;
  }

  /**
   * Writes all of `bytes`; a client that takes none of them for `writeTimeoutMs`, or has not taken the whole answer by
   * its deadline, is cut off. Returns false if cut.
   */
  async #send(connection: Connection, bytes: Uint8Array): Promise<boolean> {
    for (let offset = 0; offset < bytes.length;) {
      if (connection.closed) return false;
      const left = connection.deadlineMs - this.#now();
      this.#arm(connection, Math.max(0, Math.min(this.#limits.writeTimeoutMs, left)), "write_timeout");
      try {
        offset += await connection.conn.write(bytes.subarray(offset));
      } catch {
        return false;
      }
    }
    this.#disarm(connection);
    return !connection.closed;
  }

  /** Sends a last answer (a 400 or 408) with a short write bound, and never throws. */
  async #writeQuietly(connection: Connection, response: Response): Promise<void> {
    if (connection.closed) return;
    connection.waitingSinceMs = undefined;
    try {
      await this.#write(connection, response, false, false);
    } catch { /* the client is gone */ }
  }

  /** The connection waits for a request head, of which it has `headBytes`: idle for the first byte, or for the rest. */
  #startWaiting(connection: Connection, idle: boolean, headBytes: number): void {
    connection.waitingSinceMs = this.#now();
    connection.headBytes = headBytes;
    if (idle) this.#arm(connection, this.#limits.idleTimeoutMs, undefined);
    else this.#arm(connection, this.#limits.headerTimeoutMs, "header_timeout");
  }

  /** The connection is answering a request: it waits for nothing and cannot be evicted. */
  #busy(connection: Connection): void {
    connection.waitingSinceMs = undefined;
    connection.headBytes = 0;
    this.#disarm(connection);
  }

  /** Closes the connection after `ms`, counted under `reason` (nothing is counted for an idle keep-alive ending). */
  #arm(connection: Connection, ms: number, reason: HttpRefusalReason | undefined): void {
    clearTimeout(connection.timer);
    connection.timer = setTimeout(() => {
      connection.timer = undefined;
      if (reason === "header_timeout" && connection.headBytes > 0) {
        // Half a head: say why before hanging up, for whoever debugs the client. Whatever else arrives meanwhile is
        // not read as a request.
        this.#count(reason);
        void this.#writeQuietly(connection, plainResponse(408, "Request head not received in time.\n"))
          .finally(() => this.#close(connection));
        connection.closing = true;
        return;
      }
      this.#close(connection, reason);
    }, ms);
  }

  #disarm(connection: Connection): void {
    clearTimeout(connection.timer);
    connection.timer = undefined;
  }

  /** Closes a connection once; `reason` counts it as turned away. */
  #close(connection: Connection, reason?: HttpRefusalReason): void {
    if (connection.closed) return;
    connection.closed = true;
    this.#disarm(connection);
    if (reason) this.#count(reason);
    closeQuietly(connection.conn);
    this.#open.delete(connection);
    if (this.#open.size === 0) this.#allClosed?.();
  }

  #count(reason: HttpRefusalReason): void {
    const refusals = this.#options.stats.httpRefusals;
    refusals.set(reason, (refusals.get(reason) ?? 0) + 1);
  }

  /** Stops accepting and closes every connection waiting for a request; answers under way finish. */
  #stop(): void {
    try {
      this.#listener.close();
    } catch { /* closed already */ }
    for (const connection of this.#open) {
      if (connection.waitingSinceMs !== undefined) this.#close(connection);
    }
  }
}

function plainResponse(status: number, text: string, extra: Record<string, string> = {}): Response {
  return new Response(text, { status, headers: { "Content-Type": "text/plain; charset=utf-8", ...extra } });
}

async function readWhole(body: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const pieces: Uint8Array[] = [];
  let length = 0;
  for await (const piece of body) {
    length += piece.length;
    if (length > MAX_UNSIZED_BODY_BYTES) throw new Error(`a response body over ${MAX_UNSIZED_BODY_BYTES} bytes`);
    pieces.push(piece);
  }
  return concatBytes(pieces);
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* closed already */ }
}
