/**
 * Raw HTTP/1.1 over the Docker socket (unix or TCP), for the long-lived `/events` stream, which dockerode's
 * buffered JSON helpers do not decode safely, and for the stats calls, which cost less CPU this way.
 */
import type { DockerEndpoint } from "./config.ts";
import { ChunkedDecoder, ChunkedEncodingError } from "./chunked_decoder.ts";
import { describeConnectError, DockerApiError } from "./docker_errors.ts";
import { concatBytes } from "./bytes.ts";

/** The status line and headers of a response; header names are lower-cased. */
export interface ResponseHead {
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
  operation = "events",
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
  const status = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0]);
  if (!status) {
    throw new DockerApiError(`not an HTTP response: ${JSON.stringify(lines[0].slice(0, 60))}`, operation);
  }
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { head: { status: Number(status[1]), headers }, bodyStart: end };
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
 * Sends `GET path` and waits (at most `headTimeoutMs`, if given; else until `signal` aborts) for the response head;
 * the body then streams.
 * A non-2xx answer is read (up to 64 KiB) and thrown as `DockerApiError` with its status and message.
 */
export async function openStream(
  endpoint: DockerEndpoint,
  path: string,
  options: {
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
  },
): Promise<StreamingResponse> {
  const conn = await connect(endpoint, options.operation);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      conn.close();
    } catch { /* already closed by the peer */ }
  };
  const onAbort = () => close();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted) {
    // Aborted while connecting: the listener came too late to fire, and nothing else would close the connection.
    close();
    options.signal.removeEventListener("abort", onAbort);
    throw new DockerApiError(`${options.operation} was cancelled`, options.operation);
  }
  const timer = options.headTimeoutMs === undefined ? undefined : setTimeout(close, options.headTimeoutMs);
  const buffer = new Uint8Array(options.readBytes ?? 64 * 1024);
  const read = async (): Promise<Uint8Array | null> => {
    try {
      const n = await conn.read(buffer);
      return n === null ? null : buffer.slice(0, n);
    } catch (error) {
      if (closed) return null;
      throw new DockerApiError(
        `reading from Docker failed: ${(error as Error).message}`,
        options.operation,
        undefined,
        {
          cause: error,
        },
      );
    }
  };
  try {
    await conn.write(encodeGetRequest(path));
    let pending: Uint8Array = new Uint8Array(0);
    let parsed: ReturnType<typeof parseResponseHead>;
    while (!(parsed = parseResponseHead(pending, options.operation))) {
      const more = await read();
      if (more === null) {
        throw new DockerApiError(
          closed && !options.signal?.aborted
            ? `no response from Docker within ${options.headTimeoutMs} ms`
            : "Docker closed the connection before answering",
          options.operation,
        );
      }
      pending = concatBytes([pending, more]);
    }
    clearTimeout(timer);
    const { head, bodyStart } = parsed;
    const chunked = /chunked/i.test(head.headers.get("transfer-encoding") ?? "");
    const declared = head.headers.get("content-length");
    // Without chunks, a Content-Length ends the body: the engine keeps the connection open after it.
    let left = !chunked && declared !== undefined && /^\d+$/.test(declared) ? Number(declared) : Infinity;
    const first = pending.subarray(bodyStart);
    const body = async function* (): AsyncGenerator<Uint8Array> {
      const decoder = chunked ? new ChunkedDecoder() : undefined;
      let piece: Uint8Array | null = first;
      try {
        while (piece !== null) {
          if (decoder) {
            for (const payload of pushChunks(decoder, piece, options.operation)) yield payload;
            if (decoder.done) return;
          } else if (piece.length > 0) {
            const taken = piece.length > left ? piece.subarray(0, left) : piece;
            left -= taken.length;
            yield taken;
          }
          if (left === 0) return;
          piece = await read();
        }
        // The engine hung up mid-answer (a close of our own, on abort or by the reader, is no fault of its).
        if (!closed && left !== Infinity) {
          throw new DockerApiError(
            `Docker closed the connection ${left} bytes before the end of its answer`,
            options.operation,
          );
        }
        if (!closed && decoder && !options.openEnded) {
          throw new DockerApiError(
            "Docker closed the connection before the last chunk of its answer",
            options.operation,
          );
        }
      } finally {
        close();
        options.signal?.removeEventListener("abort", onAbort);
      }
    };
    if (head.status < 200 || head.status > 299) {
      let text = "";
      const decoder = new TextDecoder();
      for await (const piece of body()) {
        text += decoder.decode(piece, { stream: true });
        if (text.length > 65536) break;
      }
      let message = text.trim();
      try {
        message = JSON.parse(message).message ?? message;
      } catch { /* plain text error body */ }
      throw new DockerApiError(
        `Docker answered ${head.status} to GET ${path.split("?")[0]}: ${message.slice(0, 300)}`,
        options.operation,
        head.status,
      );
    }
    return { head, body: body(), close };
  } catch (error) {
    clearTimeout(timer);
    close();
    options.signal?.removeEventListener("abort", onAbort);
    throw error;
  }
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
