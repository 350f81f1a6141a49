/**
 * The wire format of the exporter's HTTP/1.1 server: reading a request head from bytes (RFC 9112 §2–§6), strictly
 * and with limits, and writing a response head. Pure: bytes and strings in, values out.
 */

/** A request head as read from the connection. Header names are lower-cased, in the order they came. */
export interface RequestHead {
  method: string;
  /** The request target as sent: `/metrics?x=1` (origin form) or `http://host/metrics` (absolute form). */
  target: string;
  /** `1.1` or `1.0`. */
  version: "1.1" | "1.0";
  headers: [string, string][];
  /** Bytes the head took, its closing empty line included: where the next request starts. */
  length: number;
}

/** Why a head cannot be answered; the server replies 400 and closes the connection. */
export class BadRequestError extends Error {
  override name = "BadRequestError";
}

/** Limits on a request head. */
export interface HeadLimits {
  /** The most bytes a head may take, request line and closing empty line included. */
  maxBytes: number;
  /** The most header lines. */
  maxHeaders: number;
}

/**
 * A head of at most 64 KiB (a browser's cookies and a long Accept fit, and hyper, behind `Deno.serve`, allows more) in
 * at most 100 header lines. Larger is refused rather than buffered: every open connection may hold this much.
 */
export const DEFAULT_HEAD_LIMITS: HeadLimits = { maxBytes: 64 * 1024, maxHeaders: 100 };

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A request target: visible ASCII only (no spaces, no controls). */
const TARGET = /^[\x21-\x7e]+$/;
/** A field value: visible characters, obs-text, spaces and tabs; no controls (a NUL, a bare CR or LF). */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * Finds and reads the request head at the start of `bytes`. Returns `undefined` while the head is incomplete
 * (and within `limits.maxBytes`). Empty lines before the request line are skipped, as RFC 9112 §2.2 allows.
 * @throws BadRequestError for a head that is malformed or over the limits.
 */
export function parseRequestHead(bytes: Uint8Array, limits: HeadLimits = DEFAULT_HEAD_LIMITS): RequestHead | undefined {
  let start = 0;
  while (start + 1 < bytes.length && bytes[start] === 13 && bytes[start + 1] === 10) start += 2;
  const end = findHeadEnd(bytes, start, Math.min(bytes.length, limits.maxBytes));
  if (end < 0) {
    if (bytes.length >= limits.maxBytes) throw new BadRequestError(`request head larger than ${limits.maxBytes} bytes`);
    return undefined;
  }
  // Latin-1: one character per byte, so that obs-text in a value survives and no byte sequence fails to decode.
  const lines = latin1(bytes.subarray(start, end - 4)).split("\r\n");
  const requestLine = lines[0].split(" ");
  if (requestLine.length !== 3) throw new BadRequestError("the request line is not METHOD TARGET VERSION");
  const [method, target, versionText] = requestLine;
  if (!TOKEN.test(method)) throw new BadRequestError("the method is not a token");
  if (!TARGET.test(target)) throw new BadRequestError("the request target has spaces or control characters");
  if (versionText !== "HTTP/1.1" && versionText !== "HTTP/1.0") {
    throw new BadRequestError(`unsupported version ${JSON.stringify(versionText.slice(0, 16))}`);
  }
  if (lines.length - 1 > limits.maxHeaders) throw new BadRequestError(`more than ${limits.maxHeaders} header lines`);
  const headers: [string, string][] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line.includes("\r") || line.includes("\n")) throw new BadRequestError("a bare CR or LF in the head");
    const colon = line.indexOf(":");
    // A line starting with white space continues the one before (obs-fold): refused (RFC 9112 §5.2).
    if (colon <= 0) throw new BadRequestError("a header line without a name and colon");
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) throw new BadRequestError("a header name that is not a token");
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    if (!FIELD_VALUE.test(value)) throw new BadRequestError(`control characters in header ${name}`);
    headers.push([name.toLowerCase(), value]);
  }
  return { method, target, version: versionText === "HTTP/1.1" ? "1.1" : "1.0", headers, length: end };
}

/** The offset just past the first CRLFCRLF at or after `from` and before `limit`, or -1. */
function findHeadEnd(bytes: Uint8Array, from: number, limit: number): number {
  for (let i = bytes.indexOf(10, from + 3); i >= 0 && i < limit; i = bytes.indexOf(10, i + 1)) {
    if (bytes[i - 1] === 13 && bytes[i - 2] === 10 && bytes[i - 3] === 13) return i + 1;
  }
  return -1;
}

/**
 * A connection's incoming bytes, read into request heads as they arrive. Each byte is scanned for the end of the head
 * once, whatever sizes the pieces come in; a bare LF, too many lines or too many bytes are refused as soon as they are
 * seen, not once the head ends. Bytes after a head (a pipelined request) stay for the next one.
 */
export class HeadReader {
  #buffer = new Uint8Array(0);
  #length = 0;
  /** Where the scan for the head's end goes on from. */
  #scanned = 0;
  /** Where the current line starts, and how many lines the head has so far (request line included). */
  #lineStart = 0;
  #lines = 0;

  constructor(private readonly limits: HeadLimits = DEFAULT_HEAD_LIMITS) {}

  /** Bytes held: a head's start, or a pipelined request. */
  get length(): number {
    return this.#length;
  }

  /** Adds the next bytes read. */
  push(bytes: Uint8Array): void {
    if (this.#length + bytes.length > this.#buffer.length) {
      const grown = new Uint8Array(Math.max(this.#length + bytes.length, this.#buffer.length * 2, 1024));
      grown.set(this.#buffer.subarray(0, this.#length));
      this.#buffer = grown;
    }
    this.#buffer.set(bytes, this.#length);
    this.#length += bytes.length;
  }

  /**
   * The next whole head, read and taken from what is held, or `undefined` while it is still arriving. Empty lines
   * before a request line are dropped (RFC 9112 §2.2).
   * @throws BadRequestError for a head that is malformed or over the limits.
   */
  take(): RequestHead | undefined {
    // Empty lines before a request line (one after a request, say) are dropped, so that they hold nothing.
    while (this.#lines === 0 && this.#length >= 2 && this.#buffer[0] === 13 && this.#buffer[1] === 10) this.#drop(2);
    const bytes = this.#buffer.subarray(0, this.#length);
    for (let i = bytes.indexOf(10, this.#scanned); i >= 0; i = bytes.indexOf(10, i + 1)) {
      if (i === 0 || bytes[i - 1] !== 13) throw new BadRequestError("a bare LF in the head");
      if (i + 1 > this.limits.maxBytes) break;
      if (i - 1 === this.#lineStart) {
        // The empty line that ends the head.
        const head = parseRequestHead(bytes.subarray(0, i + 1), this.limits)!;
        this.#drop(i + 1);
        return head;
      }
      if (++this.#lines > this.limits.maxHeaders + 1) {
        throw new BadRequestError(`more than ${this.limits.maxHeaders} header lines`);
      }
      this.#lineStart = i + 1;
    }
    this.#scanned = this.#length;
    if (this.#length >= this.limits.maxBytes) {
      throw new BadRequestError(`request head larger than ${this.limits.maxBytes} bytes`);
    }
    return undefined;
  }

  /** Forgets the first `count` bytes, keeping what follows for the next head. */
  #drop(count: number): void {
    this.#buffer.copyWithin(0, count, this.#length);
    this.#length -= count;
    this.#scanned = 0;
    this.#lineStart = 0;
    this.#lines = 0;
  }
}

function latin1(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode(...bytes.subarray(i, Math.min(i + 8192, bytes.length)));
  }
  return text;
}

/** How a request's body is framed, as far as a server that takes no request bodies cares. */
export type BodyFraming = { kind: "none" } | { kind: "length"; bytes: number } | { kind: "chunked" };

/**
 * Reads the body framing from `Content-Length` and `Transfer-Encoding` (RFC 9112 §6).
 * @throws BadRequestError for framing that two parties could read differently: both headers, a Content-Length that
 * is not one decimal number (several that differ, a sign, a list), or a Transfer-Encoding that does not end in
 * chunked. Refusing these is what keeps a request from being smuggled past a proxy in front of the exporter.
 */
export function bodyFraming(head: RequestHead): BodyFraming {
  const lengths = head.headers.filter(([name]) => name === "content-length").flatMap(([, v]) => v.split(","));
  const encodings = head.headers.filter(([name]) => name === "transfer-encoding").flatMap(([, v]) => v.split(","));
  if (encodings.length > 0) {
    if (lengths.length > 0) throw new BadRequestError("both Content-Length and Transfer-Encoding");
    if (encodings.at(-1)!.trim().toLowerCase() !== "chunked") {
      throw new BadRequestError("a Transfer-Encoding that does not end in chunked");
    }
    return { kind: "chunked" };
  }
  if (lengths.length === 0) return { kind: "none" };
  const values = new Set(lengths.map((value) => value.trim()));
  const [value] = values;
  if (values.size !== 1 || !/^\d{1,15}$/.test(value)) throw new BadRequestError("a bad Content-Length");
  const bytes = Number(value);
  return bytes === 0 ? { kind: "none" } : { kind: "length", bytes };
}

/** Reason phrases of the statuses the exporter sends; any other gets an empty one, which HTTP/1.1 allows. */
const REASONS: Record<number, string> = {
  200: "OK",
  204: "No Content",
  304: "Not Modified",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** A response head: the status line, each header as `name: value`, and the empty line, as one string. */
export function encodeResponseHead(status: number, headers: Iterable<readonly [string, string]>): string {
  let head = `HTTP/1.1 ${status} ${REASONS[status] ?? ""}\r\n`;
  for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
  return head + "\r\n";
}

/** The IMF-fixdate of `ms` for a `Date` header: `Sun, 06 Dec 2026 04:28:14 GMT`. */
export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}
