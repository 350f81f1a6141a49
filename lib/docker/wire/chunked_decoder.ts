/**
 * A decoder for HTTP/1.1 chunked transfer encoding (RFC 9112 §7.1), fed raw bytes in pieces of any size.
 * Pure: it holds only its own parsing state.
 */

/** Thrown when the bytes are not valid chunked encoding. */
export class ChunkedEncodingError extends Error {
  override name = "ChunkedEncodingError";
}

const CR = 13;
const LF = 10;
/** A chunk-size line longer than this is garbage, not a size (it also bounds memory). */
const MAX_LINE = 4096;

/**
 * Turns chunked bytes into the payload bytes they carry.
 * @example
 * const decoder = new ChunkedDecoder();
 * decoder.push(bytes("5\r\nhel")); // [bytes("hel")]
 * decoder.push(bytes("lo\r\n0\r\n\r\n")); // [bytes("lo")]; decoder.done === true
 */
export class ChunkedDecoder {
  #state: "size" | "data" | "data-end" | "trailer" | "done" = "size";
  #line: number[] = [];
  #remaining = 0;
  #extra = 0;

  /** True once the last (zero-size) chunk and its trailer have been read. */
  get done(): boolean {
    return this.#state === "done";
  }

  /** Bytes fed after the end of the body (none on a connection used for one answer at a time). */
  get extraBytes(): number {
    return this.#extra;
  }

  /**
   * Feeds the next bytes; returns the payload pieces they completed (views into `input`, not copies).
   * @throws ChunkedEncodingError on malformed input.
   */
  push(input: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let i = 0;
    while (i < input.length && this.#state !== "done") {
      switch (this.#state) {
        case "size":
        case "trailer": {
          const byte = input[i++];
          if (byte !== LF) {
            if (this.#line.length >= MAX_LINE) throw new ChunkedEncodingError("chunk size line too long");
            this.#line.push(byte);
            break;
          }
          const line = String.fromCharCode(...this.#line).replace(/\r$/, "");
          this.#line = [];
          if (this.#state === "trailer") {
            if (line === "") this.#state = "done";
            break;
          }
          const size = /^([0-9a-fA-F]{1,12})[ \t]*(;.*)?$/.exec(line);
          if (!size) throw new ChunkedEncodingError(`bad chunk size line ${JSON.stringify(line.slice(0, 40))}`);
          this.#remaining = parseInt(size[1], 16);
          this.#state = this.#remaining === 0 ? "trailer" : "data";
          break;
        }
        case "data": {
          const take = Math.min(this.#remaining, input.length - i);
          out.push(input.subarray(i, i + take));
          i += take;
          this.#remaining -= take;
          if (this.#remaining === 0) this.#state = "data-end";
          break;
        }
        case "data-end": {
          const byte = input[i++];
          if (byte === CR && this.#line.length === 0) {
            this.#line.push(CR);
          } else if (byte === LF) {
            this.#line = [];
            this.#state = "size";
          } else {
            throw new ChunkedEncodingError("chunk data not followed by CRLF");
          }
          break;
        }
      }
    }
    if (this.#state === "done") this.#extra += input.length - i;
    return out;
  }
}
