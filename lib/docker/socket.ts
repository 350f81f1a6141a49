/**
 * Raw HTTP/1.1 over the Docker socket (unix or TCP): the long-lived `/events` stream, which dockerode's buffered JSON
 * helpers do not decode safely; the inspect and stats calls, which cost less CPU this way; and every call dockerode
 * makes, through `modem.ts`.
 */
import type { DockerEndpoint } from "./endpoint.ts";
import { ChunkedDecoder, ChunkedEncodingError } from "./wire/mod.ts";
import { describeConnectError, DockerApiError } from "./errors.ts";
import { concatBytes } from "../shared/mod.ts";

/** The status line and headers of a response; header names are lower-cased. */
export interface ResponseHead {
  /** "1.1" or "1.0". */
  version: string;
  status: number;
  headers: Map<string, string>;
}

/** A response whose body is read as it arrives. */
export interface StreamingResponse {
  head: ResponseHead;
  /**
   * The decoded body (chunked encoding removed), piece by piece; ends with the body (its Content-Length, or the
   * last chunk) or when the connection ends, whichever comes first.
   */
  body: AsyncIterable<Uint8Array>;
  /** Closes the connection; the body iterator then ends. Safe to call twice. */
  close(): void;
  /**
   * Puts the connection back in the pool when its answer was read to the end with nothing after it, else closes
   * it: for a caller that asked to `holdConnection`. Does nothing once the connection is closed or back.
   */
  release(): void;
}

const MAX_HEAD_BYTES = 64 * 1024;
const encoder = new TextEncoder();

/** Encodes a GET request with no body, as Docker's API expects it. */
export function encodeGetRequest(path: string): Uint8Array {
  return encoder.encode(`GET ${path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: docker-exporter\r\nAccept: */*\r\n\r\n`);
}

/**
 * Finds the end of the response head in `bytes`. Returns the parsed head and the offset where the body starts,
 * or `undefined` when more bytes are needed.
 * @throws DockerApiError (naming `operation`) when the head is not HTTP.
 */
export function parseResponseHead(
  bytes: Uint8Array,
  operation: string,
): { head: ResponseHead; bodyStart: number } | undefined {
  let end = -1;
  for (let i = 3; i < bytes.length; i++) {
    if (bytes[i] === 10 && bytes[i - 1] === 13 && bytes[i - 2] === 10 && bytes[i - 3] === 13) {
      end = i + 1;
      break;
    }
  }
  if (end < 0) {
    if (bytes.length > MAX_HEAD_BYTES) throw new DockerApiError("response head too large", operation);
    return undefined;
  }
  const lines = new TextDecoder().decode(bytes.subarray(0, end - 4)).split("\r\n");
  const status = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(lines[0]);
  if (!status) {
    throw new DockerApiError(`not an HTTP response: ${JSON.stringify(lines[0].slice(0, 60))}`, operation);
  }
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { head: { version: `1.${status[1]}`, status: Number(status[2]), headers }, bodyStart: end };
}

async function connect(endpoint: DockerEndpoint, operation: string): Promise<Deno.Conn> {
  try {
    return endpoint.kind === "unix"
      ? await Deno.connect({ transport: "unix", path: endpoint.path })
      : await Deno.connect({ transport: "tcp", hostname: endpoint.hostname, port: endpoint.port });
  } catch (error) {
    throw new DockerApiError(describeConnectError(endpoint, error), operation, undefined, { cause: error });
  }
}

/**
 * Idle keep-alive connections to one endpoint, for the calls made on the socket. A connection goes back here when
 * its answer was read to the end and the engine did not say `Connection: close`; a call takes the most recently
 * used one, and a connection idle for longer than `idleMs` is closed: when a call next takes or puts one back, or
 * by a timer while connections wait, so that a quiet exporter (resource metrics off, no events) does not hold them
 * open on the engine for good. Over TCP (a socket proxy) a connection per call would leave one socket in TIME_WAIT
 * per inspect or stats call, for a minute each. A connection on which anything arrives while it waits (bytes, or
 * its end) is closed at once and never handed out: no answer is due on it, so the next call would read those bytes
 * as its own answer.
 */
export class ConnectionPool {
  #idle: { conn: Deno.Conn; since: number }[] = [];
  #closed = false;
  /** Set while connections wait: fires when the oldest has waited `idleMs`. Unref'd: it never keeps Deno alive. */
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #maxIdle: number;
  readonly #idleMs: number;
  readonly #now: () => number;

  /** `maxIdle`: the most idle connections kept (default 8). */
  constructor(options: { maxIdle?: number; idleMs?: number; now?: () => number } = {}) {
    this.#maxIdle = options.maxIdle ?? 8;
    this.#idleMs = options.idleMs ?? 30_000;
    this.#now = options.now ?? Date.now;
  }

  /** How many idle connections are kept now. */
  get idle(): number {
    return this.#idle.length;
  }

  /**
   * The most recently used idle connection, or `undefined`; connections idle too long are closed. The read it kept
   * pending while idle is the first read of the call that takes it (`openStream` sees to that).
   */
  take(): Deno.Conn | undefined {
    this.#sweep();
    const conn = this.#idle.pop()?.conn;
    conn?.ref();
    return conn;
  }

  /**
   * Keeps `conn` for a later call, or closes it when the pool is full or closed. While it waits, a read is kept
   * pending on it: should that read end (bytes came, or the connection's end), the connection is closed and dropped.
   */
  put(conn: Deno.Conn): void {
    this.#sweep();
    if (this.#closed || this.#idle.length >= this.#maxIdle) return closeQuietly(conn);
    const entry = { conn, since: this.#now() };
    this.#idle.push(entry);
    // Like the timer, a connection that waits does not keep Deno running; `take` undoes this.
    conn.unref();
    void watchIdle(conn).then(() => {
      const at = this.#idle.indexOf(entry);
      // Not waiting here any more: taken by a call, whose first read this is, or closed already.
      if (at < 0) return;
      this.#idle.splice(at, 1);
      closeQuietly(conn);
    });
    this.#schedule();
  }

  /** Closes the connections idle for longer than `idleMs`: the oldest, at the bottom of the stack. */
  #sweep(): void {
    const now = this.#now();
    while (this.#idle.length > 0 && now - this.#idle[0].since > this.#idleMs) closeQuietly(this.#idle.shift()!.conn);
  }

  /** Arms the timer for the oldest idle connection, unless it is armed already or none waits. */
  #schedule(): void {
    if (this.#timer !== undefined || this.#idle.length === 0) return;
    const due = Math.max(0, this.#idle[0].since + this.#idleMs - this.#now()) + 1;
    const timer = setTimeout(() => {
      this.#timer = undefined;
      this.#sweep();
      this.#schedule();
    }, due);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** Closes every idle connection; connections put back later are closed at once. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const { conn } of this.#idle.splice(0)) closeQuietly(conn);
  }
}

/**
 * Each connection's read buffer, reused by every call made on it, so that a call allocates none. A stats call waits
 * up to a second for the engine's next sample, long enough for a buffer of its own to be promoted out of V8's young
 * generation, and dead buffers there wait for the next full garbage collection, which an idle exporter seldom runs
 * (see bench/RESULTS.md). A kept connection holds its buffer, as large as the largest read made on it, while idle (at
 * most the pool's `maxIdle` of them). Safe because a connection serves one call at a time (the read it keeps pending
 * while it waits in a pool is the first read of its next call, which reads nothing else until that one ends), and
 * reads hand out copies.
 */
const readBuffers = new WeakMap<Deno.Conn, Uint8Array>();

/** A buffer of `bytes` to read `conn` into: the one its earlier calls used, when that is large enough. */
function readBufferFor(conn: Deno.Conn, bytes: number): Uint8Array {
  let buffer = readBuffers.get(conn);
  if (buffer === undefined || buffer.length < bytes) readBuffers.set(conn, buffer = new Uint8Array(bytes));
  return buffer.subarray(0, bytes);
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* already closed by the peer */ }
}

/** What a read of a connection gave: the bytes (a copy), `null` at its end, or the error it failed with. */
type ReadResult = { bytes: Uint8Array | null } | { error: unknown };

/**
 * The read each connection keeps pending while it waits in a pool, until a call takes the connection and makes it
 * that call's first read. Nothing may arrive on a connection no request is on: bytes left over from an earlier
 * answer, or sent after it, would be read by the next call as the start of its own answer, and every later answer
 * on the connection would then be one behind.
 */
const idleReads = new WeakMap<Deno.Conn, Promise<ReadResult>>();

/** Starts `conn`'s idle read (see `idleReads`), unless one is pending already. */
function watchIdle(conn: Deno.Conn): Promise<ReadResult> {
  let pending = idleReads.get(conn);
  if (pending) return pending;
  // The buffer of the connection's calls; whatever arrives while it waits is either dropped with it or the start
  // of an answer, which any size of buffer reads.
  const buffer = readBuffers.get(conn) ?? new Uint8Array(1024);
  pending = conn.read(buffer).then(
    (n): ReadResult => ({ bytes: n === null ? null : buffer.slice(0, n) }),
    (error): ReadResult => ({ error }),
  );
  idleReads.set(conn, pending);
  return pending;
}

/** The idle read of `conn` that a call now takes over as its first read, if one is pending. */
function takeIdleRead(conn: Deno.Conn): Promise<ReadResult> | undefined {
  const pending = idleReads.get(conn);
  idleReads.delete(conn);
  return pending;
}

/** A reused connection that the engine had closed while it was idle: the call is made again on a new one. */
const STALE = Symbol("stale connection");

/** The options of `openStream`. */
export interface StreamOptions {
  /** Left out by a caller whose `signal` carries a timeout of its own, rather than running two timers. */
  headTimeoutMs?: number;
  signal?: AbortSignal;
  operation: string;
  /** The most read at a time (default 64 KiB, for the event stream); a small answer wants a smaller buffer. */
  readBytes?: number;
  /**
   * The body is a stream with no end of its own (the event stream), which ends when the engine closes the
   * connection; otherwise a chunked body that stops before its last chunk is a fault.
   */
  openEnded?: boolean;
  /**
   * Where to take an idle connection from and put this one back once its answer was read to the end. A reused
   * connection that turns out closed before any byte of the answer came is replaced by a new one, once: every
   * request here is a GET, which is safe to send again.
   */
  pool?: ConnectionPool;
  /**
   * Keeps the connection out of the pool once the body is read, until the caller calls `release()`: a caller that
   * checks first that the answer is the one it asked for, and closes the connection when it is not.
   */
  holdConnection?: boolean;
}

/**
 * Sends `GET path` and waits (at most `headTimeoutMs`, if given; else until `signal` aborts) for the response head;
 * the body then streams.
 * A non-2xx answer is read (up to 64 KiB) and thrown as `DockerApiError` with its status and message.
 */
export async function openStream(
  endpoint: DockerEndpoint,
  path: string,
  options: StreamOptions,
): Promise<StreamingResponse> {
  const idle = options.pool?.take();
  if (idle) {
    try {
      return await exchange(idle, true, path, options);
    } catch (error) {
      if (error !== STALE) throw error;
    }
  }
  return await exchange(await connect(endpoint, options.operation), false, path, options);
}

/**
 * One request and its answer on `conn`, step by step (see `Exchange`); the head timer runs until the final head.
 * @throws STALE when `reused` and the engine had already closed it.
 */
async function exchange(
  conn: Deno.Conn,
  reused: boolean,
  path: string,
  options: StreamOptions,
): Promise<StreamingResponse> {
  const call = new Exchange(conn, reused, path, options);
  const timer = options.headTimeoutMs === undefined ? undefined : setTimeout(call.close, options.headTimeoutMs);
  try {
    await call.send();
    const { head, rest } = await call.readHead();
    clearTimeout(timer);
    const body = call.body(head, rest);
    if (head.status < 200 || head.status > 299) throw await call.refusal(head, body);
    return { head, body, close: call.close, release: call.release };
  } catch (error) {
    clearTimeout(timer);
    call.close();
    throw error;
  }
}

/** How a response's body ends, and whether its connection can take another request after it (RFC 9112 §6). */
interface BodyFraming {
  chunked: boolean;
  /** Without chunks, the body's bytes: none for a status without a body, its Content-Length, else `Infinity`. */
  length: number;
  keepAlive: boolean;
}

/** Reads the framing of the body that follows `head`. */
function framingOf(head: ResponseHead): BodyFraming {
  // 1xx, 204 and 304 answers end with their head, whatever their headers say (RFC 9112 §6.3).
  const bodiless = head.status < 200 || head.status === 204 || head.status === 304;
  const chunked = !bodiless && /chunked/i.test(head.headers.get("transfer-encoding") ?? "");
  const declared = head.headers.get("content-length");
  // Without chunks, a Content-Length ends the body: the engine keeps the connection open after it.
  const length = bodiless
    ? 0
    : !chunked && declared !== undefined && /^\d+$/.test(declared)
    ? Number(declared)
    : Infinity;
  const keepAlive = head.version === "1.1" && head.status !== 101 &&
    !/\bclose\b/i.test(head.headers.get("connection") ?? "");
  return { chunked, length, keepAlive };
}

/**
 * The state of one request and its answer on a connection, and its steps in the order `exchange` takes them: send
 * the request, read the head, stream the body, and at its end give the connection back to the pool or close it.
 */
class Exchange {
  readonly #conn: Deno.Conn;
  readonly #reused: boolean;
  readonly #path: string;
  readonly #options: StreamOptions;
  /** Set once the connection is closed, or handed back to the pool: either way it is no longer this call's. */
  #closed = false;
  /** The connection's read buffer (see `readBuffers`), `readBytes` long. */
  readonly #buffer: Uint8Array;
  /** The read a reused connection kept pending while it waited in the pool: the first read of this call. */
  #idleRead: Promise<ReadResult> | undefined;
  /** The bytes read since the last head was parsed: the start of the answer, until its final head is read. */
  #pending: Uint8Array = new Uint8Array(0);
  /** Whether the engine keeps the connection open after this answer (`framingOf`). */
  #keepAlive = false;
  /** The answer was read to its end, and nothing after it: the connection can take the next request. */
  #reusable = false;

  /**
   * Takes `conn` for a call of `GET path`: closes it when `options.signal` aborts.
   * @throws DockerApiError (cancelled), having closed `conn`, when the signal aborted while it connected.
   */
  constructor(conn: Deno.Conn, reused: boolean, path: string, options: StreamOptions) {
    this.#conn = conn;
    this.#reused = reused;
    this.#path = path;
    this.#options = options;
    options.signal?.addEventListener("abort", this.close, { once: true });
    if (options.signal?.aborted) {
      // Aborted while connecting: the listener came too late to fire, and nothing else would close the connection.
      this.close();
      throw new DockerApiError(`${options.operation} was cancelled`, options.operation);
    }
    this.#buffer = readBufferFor(conn, options.readBytes ?? 64 * 1024);
    this.#idleRead = takeIdleRead(conn);
  }

  /** Closes the connection, unless it is closed or back in the pool already. Bound: a timer and a caller call it. */
  readonly close = (): void => {
    // A caller may close an answer without reading its body (the tracker, when the list fails after the event
    // stream opened), so the body's own cleanup never runs: the listener would keep the connection and its buffer
    // alive on a signal that lasts as long as the process.
    this.#options.signal?.removeEventListener("abort", this.close);
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.#conn);
  };

  /**
   * Puts the connection back in the pool when the answer was read to its end with nothing after it and the engine
   * keeps it open, else closes it (see `StreamingResponse.release`). Bound, as `close`.
   */
  readonly release = (): void => {
    this.#options.signal?.removeEventListener("abort", this.close);
    if (this.#closed) return;
    if (this.#reusable && this.#keepAlive && this.#options.pool) {
      this.#closed = true;
      this.#options.pool.put(this.#conn);
    } else this.close();
  };

  /** Writes the request. @throws STALE for a reused connection the engine closed while it was idle. */
  async send(): Promise<void> {
    try {
      await this.#conn.write(encodeGetRequest(this.#path));
    } catch (error) {
      if (this.#stale()) throw STALE;
      throw new DockerApiError(
        `writing to Docker failed: ${(error as Error).message}`,
        this.#options.operation,
        undefined,
        { cause: error },
      );
    }
  }

  /**
   * Reads up to the end of the final response head, skipping interim answers; returns it with the bytes of the body
   * that came with it.
   * @throws STALE for a reused connection the engine closed while it was idle; DockerApiError for anything else.
   */
  async readHead(): Promise<{ head: ResponseHead; rest: Uint8Array }> {
    let parsed: ReturnType<typeof parseResponseHead>;
    while (!(parsed = parseResponseHead(this.#pending, this.#options.operation)) || isInterim(parsed.head.status)) {
      // An interim answer (100 Continue, 103 Early Hints; RFC 9110 §15.2) has no body and comes before the
      // real one. 101 is no interim answer: it switches protocols, which a GET of ours never asks for.
      if (parsed) {
        this.#pending = this.#pending.subarray(parsed.bodyStart);
        continue;
      }
      const more = await this.#readMoreHead();
      this.#pending = concatBytes([this.#pending, more]);
    }
    return { head: parsed.head, rest: this.#pending.subarray(parsed.bodyStart) };
  }

  /**
   * The next bytes of the head, telling a stale reused connection (`STALE`) from a fault: the engine hung up, or
   * the head timer closed the connection.
   */
  async #readMoreHead(): Promise<Uint8Array> {
    let more: Uint8Array | null;
    try {
      more = await this.#read();
    } catch (error) {
      if (this.#stale()) throw STALE;
      throw error;
    }
    if (more !== null) return more;
    if (this.#stale()) throw STALE;
    throw new DockerApiError(
      this.#closed && !this.#options.signal?.aborted
        ? `no response from Docker within ${this.#options.headTimeoutMs} ms`
        : "Docker closed the connection before answering",
      this.#options.operation,
    );
  }

  /** A reused connection the engine closed while it was idle: nothing of an answer came, and not by our doing. */
  #stale(): boolean {
    return this.#reused && this.#pending.length === 0 && !this.#closed;
  }

  /**
   * The next bytes from the engine (a copy), or `null` at the connection's end or once this call closed it.
   * @throws DockerApiError when the read fails.
   */
  async #read(): Promise<Uint8Array | null> {
    try {
      if (this.#idleRead) {
        const result = await this.#idleRead;
        this.#idleRead = undefined;
        if ("error" in result) throw result.error;
        return result.bytes;
      }
      const n = await this.#conn.read(this.#buffer);
      return n === null ? null : this.#buffer.slice(0, n);
    } catch (error) {
      if (this.#closed) return null;
      throw new DockerApiError(
        `reading from Docker failed: ${(error as Error).message}`,
        this.#options.operation,
        undefined,
        { cause: error },
      );
    }
  }

  /**
   * The body that follows `head`, starting with `rest` (the bytes read with the head), framed as the head says.
   * Nothing is read before it is iterated; its end, however it comes, releases the connection (see `#bodyEnded`).
   */
  body(head: ResponseHead, rest: Uint8Array): AsyncGenerator<Uint8Array> {
    const framing = framingOf(head);
    this.#keepAlive = framing.keepAlive;
    return framing.chunked ? this.#chunkedBody(rest) : this.#sizedBody(rest, framing.length);
  }

  /** A chunked body, without its chunk framing: it ends with the last chunk. */
  async *#chunkedBody(first: Uint8Array): AsyncGenerator<Uint8Array> {
    const decoder = new ChunkedDecoder();
    let piece: Uint8Array | null = first;
    try {
      while (piece !== null) {
        for (const payload of pushChunks(decoder, piece, this.#options.operation)) yield payload;
        if (decoder.done) {
          this.#reusable = decoder.extraBytes === 0;
          return;
        }
        piece = await this.#read();
      }
      // The engine hung up mid-answer (a close of our own, on abort or by the reader, is no fault of its).
      if (!this.#closed && !this.#options.openEnded) {
        throw new DockerApiError(
          "Docker closed the connection before the last chunk of its answer",
          this.#options.operation,
        );
      }
    } finally {
      this.#bodyEnded();
    }
  }

  /**
   * A body of `left` bytes (its Content-Length, or 0), or one that ends with the connection (`left` is `Infinity`).
   * Whether the connection is reusable is settled before the last piece is handed out: a reader that stops at it
   * has read the whole answer.
   */
  async *#sizedBody(first: Uint8Array, left: number): AsyncGenerator<Uint8Array> {
    let piece: Uint8Array | null = first;
    try {
      while (piece !== null) {
        const taken = piece.length > left ? piece.subarray(0, left) : piece;
        left -= taken.length;
        if (left === 0) this.#reusable = taken.length === piece.length;
        if (taken.length > 0) yield taken;
        if (left === 0) return;
        piece = await this.#read();
      }
      // The engine hung up mid-answer (a close of our own, on abort or by the reader, is no fault of its).
      if (!this.#closed && left !== Infinity) {
        throw new DockerApiError(
          `Docker closed the connection ${left} bytes before the end of its answer`,
          this.#options.operation,
        );
      }
    } finally {
      this.#bodyEnded();
    }
  }

  /**
   * The body's end, read or not: the connection goes back or is closed (`release`), except that a held connection
   * read to its end waits for the caller's `release()`.
   */
  #bodyEnded(): void {
    this.#options.signal?.removeEventListener("abort", this.close);
    if (!this.#options.holdConnection || !this.#reusable) this.release();
  }

  /**
   * The `DockerApiError` a non-2xx answer stands for, with the engine's message from its body (read up to 64 KiB).
   * The connection is released: an error answer read to its end leaves it as fit for the next request as any other.
   */
  async refusal(head: ResponseHead, body: AsyncIterable<Uint8Array>): Promise<DockerApiError> {
    let text = "";
    const decoder = new TextDecoder();
    for await (const piece of body) {
      text += decoder.decode(piece, { stream: true });
      if (text.length > 65536) break;
    }
    this.release();
    const message = engineMessage(text);
    return new DockerApiError(
      `Docker answered ${head.status} to GET ${this.#path.split("?")[0]}${message ? `: ${message.slice(0, 300)}` : ""}`,
      this.#options.operation,
      head.status,
    );
  }
}

/** The message of an error answer's body: its JSON `message`, or else the text itself, trimmed. */
function engineMessage(text: string): string {
  const message = text.trim();
  try {
    return JSON.parse(message).message ?? message;
  } catch { /* plain text error body */ }
  return message;
}

/** An informational answer that a final one follows on the same connection: any 1xx but 101 Switching Protocols. */
function isInterim(status: number): boolean {
  return status >= 100 && status < 200 && status !== 101;
}

/** `decoder.push(piece)`, with a broken chunk framing reported as a fault of the connection to the engine. */
function pushChunks(decoder: ChunkedDecoder, piece: Uint8Array, operation: string): Uint8Array[] {
  try {
    return decoder.push(piece);
  } catch (error) {
    if (!(error instanceof ChunkedEncodingError)) throw error;
    throw new DockerApiError(`Docker's answer broke its chunked encoding: ${error.message}`, operation, undefined, {
      cause: error,
    });
  }
}
