/**
 * Splits a stream of concatenated JSON objects (newline-separated or not) into parsed values,
 * fed bytes in pieces of any size. A multi-byte UTF-8 character split across pieces survives.
 * Pure: it holds only its own parsing state.
 */
import { JsonNesting } from "./json_nesting.ts";

/** One result of `JsonStreamDecoder.push`: a parsed object, or the text that could not be parsed. */
export type JsonStreamItem =
  | { ok: true; value: unknown }
  | { ok: false; text: string; error: string };

/** An object bigger than this is treated as garbage rather than buffered without end. */
const MAX_OBJECT_CHARS = 1 << 20;

/**
 * Finds each top-level `{...}` object by tracking nesting outside strings, then parses it.
 * Text between objects other than whitespace is reported as garbage, once per run.
 */
export class JsonStreamDecoder {
  #decoder = new TextDecoder("utf-8");
  #buffer = "";
  /** Scan position in `#buffer`; everything before it has been classified. */
  #pos = 0;
  #nesting = new JsonNesting();
  #objectStart = -1;
  #garbageStart = -1;
  /**
   * Set after an oversized value: the rest of it is dropped up to the next newline, where dockerd starts the
   * next event. Scanning the tail instead could open a phantom object at a `{` inside one of its strings and
   * swallow the events after it.
   */
  #skipToNewline = false;

  /** Feeds the next bytes; returns the objects (and garbage) they completed, in order. */
  push(input: Uint8Array): JsonStreamItem[] {
    this.#buffer += this.#decoder.decode(input, { stream: true });
    return this.#scan();
  }

  /** Ends the stream: whatever is left unfinished is returned as garbage. */
  end(): JsonStreamItem[] {
    this.#buffer += this.#decoder.decode();
    const items = this.#scan();
    const rest = this.#buffer.trim();
    if (rest !== "") items.push({ ok: false, text: rest, error: "stream ended inside a JSON value" });
    this.#reset();
    return items;
  }

  #reset(): void {
    this.#buffer = "";
    this.#pos = 0;
    this.#nesting.reset();
    this.#objectStart = -1;
    this.#garbageStart = -1;
    this.#skipToNewline = false;
  }

  #scan(): JsonStreamItem[] {
    const items: JsonStreamItem[] = [];
    if (this.#skipToNewline) {
      const newline = this.#buffer.indexOf("\n");
      if (newline < 0) {
        this.#buffer = "";
        return items;
      }
      this.#buffer = this.#buffer.slice(newline + 1);
      this.#skipToNewline = false;
    }
    const buffer = this.#buffer;
    const nesting = this.#nesting;
    let i = this.#pos;
    while (i < buffer.length) {
      if (nesting.inValue) {
        const close = nesting.findClose(buffer, i);
        if (close < 0) break;
        items.push(parse(buffer.slice(this.#objectStart, close + 1)));
        this.#objectStart = -1;
        i = close + 1;
        continue;
      }
      const c = buffer.charCodeAt(i);
      if (c === 0x7b /* { */) {
        if (this.#garbageStart >= 0) {
          items.push(garbage(buffer.slice(this.#garbageStart, i)));
          this.#garbageStart = -1;
        }
        this.#objectStart = i;
        nesting.open();
      } else if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
        if (this.#garbageStart >= 0 && c === 0x0a) {
          items.push(garbage(buffer.slice(this.#garbageStart, i)));
          this.#garbageStart = -1;
        }
      } else if (this.#garbageStart < 0) {
        this.#garbageStart = i;
      }
      i++;
    }
    // The whole buffer is scanned (a break leaves an open object with no close in the rest). Keep only what is still
    // open: an unfinished object or a run of garbage.
    const scanned = buffer.length;
    const keepFrom = this.#objectStart >= 0
      ? this.#objectStart
      : this.#garbageStart >= 0
      ? this.#garbageStart
      : scanned;
    this.#buffer = buffer.slice(keepFrom);
    this.#pos = scanned - keepFrom;
    if (this.#objectStart >= 0) this.#objectStart = 0;
    if (this.#garbageStart >= 0) this.#garbageStart = 0;
    if (this.#buffer.length > MAX_OBJECT_CHARS) {
      items.push({ ok: false, text: this.#buffer.slice(0, 200) + "…", error: "value too large" });
      this.#reset();
      this.#skipToNewline = true;
    }
    return items;
  }
}

function garbage(text: string): JsonStreamItem {
  return { ok: false, text, error: "not JSON" };
}

function parse(text: string): JsonStreamItem {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, text, error: (error as Error).message };
  }
}
