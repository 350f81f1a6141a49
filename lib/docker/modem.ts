/**
 * dockerode's transport, handed to it as `new Docker({ modem })` (its documented way to replace docker-modem): each
 * call goes out as a GET on the exporter's own HTTP/1.1 reader (`socket.ts`), the one the event stream,
 * inspects and stats use. docker-modem would carry the same calls over node:http, and loading it costs resident
 * memory (Deno's node compatibility code; see bench/RESULTS.md) for a few calls a minute. Anything but GET is refused
 * before a byte is sent: the exporter is read-only toward Docker.
 */
import type { DockerEndpoint } from "./endpoint.ts";
import { DockerApiError, unusableAnswer } from "./errors.ts";
import { type ConnectionPool, openStream, type StreamingResponse } from "./socket.ts";
import { concatBytes } from "../shared/mod.ts";

/** One call as dockerode hands it to its modem (the fields a GET uses). */
export interface ModemRequest {
  /** `/version`, or `/containers/json?`: a trailing `?` asks for `options` as the query string. */
  path: string;
  method: string;
  options?: Record<string, unknown>;
  abortSignal?: AbortSignal;
  /** Hand back the response with its body unread, rather than the body parsed as JSON. */
  isStream?: boolean;
  /** The exporter's own calls only (dockerode never sets these): the name errors give, and the call's limits. */
  operation?: string;
  /** The most read from the socket at a time (default 16 KiB). */
  readBytes?: number;
  /** The most of the answer read (default: the modem's `maxBytes`). */
  maxBytes?: number;
  /**
   * Throws when the parsed answer is not the one asked for (an inspect of another container): the answer to another
   * request, which means the connection is out of step, so it is closed rather than reused.
   */
  accept?: (value: unknown) => void;
}

/** How a modem call ends: an error, or the parsed body (a `StreamingResponse` for `isStream`). */
export type ModemCallback = (error: unknown, result?: unknown) => void;

/** The settings of a `SocketModem`. */
export interface SocketModemOptions {
  /** Pins every call to this API version (`1.41` → `/v1.41/...`); unset, the engine picks its own. */
  apiVersion?: string;
  /** Where idle connections are kept for the next call. */
  pool?: ConnectionPool;
  /** The most of a JSON answer read (default 64 MiB: a list of 10,000 containers is about 30 MB). */
  maxBytes?: number;
}

/** The modem dockerode calls through; see the module's comment. */
export class SocketModem {
  /** dockerode sets this to the promise class its methods return. */
  Promise: PromiseConstructor = Promise;
  readonly #endpoint: DockerEndpoint;
  readonly #options: SocketModemOptions;

  constructor(endpoint: DockerEndpoint, options: SocketModemOptions = {}) {
    this.#endpoint = endpoint;
    this.#options = options;
  }

  /** docker-modem's interface: `callback(error)`, or `callback(null, result)` as `request` resolves. */
  dial(request: ModemRequest, callback: ModemCallback): void {
    this.request(request).then((result) => callback(null, result), (error) => callback(error));
  }

  /**
   * Sends the call and resolves to its body parsed as JSON, or to the response itself for `isStream` (the caller
   * then reads and closes it).
   * @throws DockerApiError naming the operation (`version`, `info`, `list`, ...), with the status for an error answer.
   */
  async request(request: ModemRequest): Promise<unknown> {
    const path = requestPath(request, this.#options.apiVersion);
    const operation = request.operation ?? operationOf(request.path);
    if (request.method !== "GET") {
      throw new DockerApiError(
        `refused to send ${request.method} ${path}: the exporter only reads from Docker`,
        operation,
      );
    }
    const response = await openStream(this.#endpoint, path, {
      signal: request.abortSignal,
      operation,
      readBytes: request.readBytes ?? 16 * 1024,
      pool: this.#options.pool,
      holdConnection: !request.isStream,
    });
    if (request.isStream) return response;
    return await readJson(
      response,
      operation,
      request.maxBytes ?? this.#options.maxBytes ?? DEFAULT_MAX_BYTES,
      request.accept,
    );
  }
}

const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

/**
 * The request path, as docker-modem builds it: the version prefix, and `options` as the query when the path ends in
 * `?` (an object value as JSON, as filters are sent; an array as repeated keys; `abortSignal` left out).
 */
export function requestPath(request: Pick<ModemRequest, "path" | "options">, apiVersion?: string): string {
  const prefix = apiVersion === undefined ? "" : `/v${apiVersion}`;
  if (!request.path.endsWith("?")) return prefix + request.path;
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(request.options ?? {})) {
    if (value === undefined || key === "abortSignal") continue;
    if (Array.isArray(value)) { for (const item of value) query.append(key, String(item)); }
    else query.append(key, value !== null && typeof value === "object" ? JSON.stringify(value) : String(value));
  }
  const text = query.toString();
  return prefix + request.path.slice(0, -1) + (text === "" ? "" : `?${text}`);
}

/** The name errors give a call: `version`, `info`, `list`, else the path without its query. */
export function operationOf(path: string): string {
  const bare = path.split("?")[0];
  return bare === "/version" ? "version" : bare === "/info" ? "info" : bare === "/containers/json" ? "list" : bare;
}

/**
 * A whole answer's body, at most `maxBytes`, parsed as JSON. The connection goes back to the pool once the body is
 * read and `accept` took it (an answer that is not JSON, read to its end, leaves the connection in step all the
 * same); it is closed on any other way out.
 * @throws DockerApiError (status 200: the engine answered) for a body over `maxBytes` or one that is not JSON, and
 * what `accept` throws.
 */
async function readJson(
  response: StreamingResponse,
  operation: string,
  maxBytes: number,
  accept?: (value: unknown) => void,
): Promise<unknown> {
  const pieces: Uint8Array[] = [];
  let length = 0;
  try {
    for await (const piece of response.body) {
      length += piece.length;
      if (length > maxBytes) throw unusableAnswer(operation, `more than ${maxBytes} bytes`, piece);
      pieces.push(piece);
    }
    const bytes = concatBytes(pieces);
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    } catch {
      response.release();
      throw unusableAnswer(operation, "something that is not JSON", bytes);
    }
    accept?.(value);
    response.release();
    return value;
  } finally {
    response.close();
  }
}
