/**
 * Parses a JSON array of objects fed in pieces of any size, one element at a time, so that a container list of
 * many megabytes is never held whole: neither as bytes, nor as one string, nor as one parsed array. Pure.
 */
import { JsonNesting } from "./json_nesting.ts";

/** A value that is not a JSON array of objects, with what was wrong. */
export class JsonArrayError extends Error {
  override name = "JsonArrayError";
}

/** One element longer than this is refused rather than buffered without end. */
const DEFAULT_MAX_ELEMENT_CHARS = 4 << 20;

type Expect = "open" | "element-or-close" | "element" | "comma-or-close" | "done";

/**
 * Finds each element of the top-level array by tracking nesting outside strings, and parses it alone.
 * @example const decoder = new JsonArrayDecoder(); for (const piece of pieces) for (const o of decoder.push(piece)) use(o); decoder.end();
 */
export class JsonArrayDecoder {
  #decoder = new TextDecoder("utf-8", { fatal: true });
  /** Unconsumed text: from the start of the current element, or only what is not yet classified. */
  #buffer = "";
  /** Scan position in `#buffer`. */
  #pos = 0;
  #expect: Expect = "open";
  /** Nesting inside the current element. */
  #nesting = new JsonNesting();
  #sample = "";

  constructor(private readonly maxElementChars = DEFAULT_MAX_ELEMENT_CHARS) {}

  /** Whether the array has opened: after that, an error is a broken array rather than something else entirely. */
  get opened(): boolean {
    return this.#expect !== "open";
  }

  /** The first 80 characters of the text, for error messages. */
  get sample(): string {
    return this.#sample;
  }

  /**
   * Feeds the next bytes; returns the elements they completed, parsed, in order.
   * @throws JsonArrayError when the text is not an array of objects, or an element is too long.
   */
  push(input: Uint8Array): Record<string, unknown>[] {
    let text: string;
    try {
      text = this.#decoder.decode(input, { stream: true });
    } catch {
      throw new JsonArrayError("the text is not UTF-8");
    }
    if (this.#sample.length < 80) this.#sample += text.slice(0, 80 - this.#sample.length);
    this.#buffer += text;
    return this.#scan();
  }

  /**
   * Ends the input.
   * @throws JsonArrayError unless the array was closed, with nothing but whitespace after it.
   */
  end(): void {
    try {
      this.#decoder.decode();
    } catch {
      throw new JsonArrayError("the text ends inside a UTF-8 character");
    }
    if (this.#expect !== "done") throw new JsonArrayError("the text ended inside the array");
  }

  #scan(): Record<string, unknown>[] {
    const elements: Record<string, unknown>[] = [];
    const buffer = this.#buffer;
    const nesting = this.#nesting;
    let start = nesting.inValue ? 0 : -1;
    let i = this.#pos;
    while (i < buffer.length) {
      if (nesting.inValue) {
        const close = nesting.findClose(buffer, i);
        if (close < 0) break;
        elements.push(parseElement(buffer.slice(start, close + 1)));
        start = -1;
        this.#expect = "comma-or-close";
        i = close + 1;
        continue;
      }
      const c = buffer.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
        i++;
        continue;
      }
      const expect = this.#expect;
      if (expect === "open" && c === 0x5b /* [ */) this.#expect = "element-or-close";
      else if ((expect === "element-or-close" || expect === "element") && c === 0x7b /* { */) {
        start = i;
        nesting.open();
      } else if ((expect === "element-or-close" || expect === "comma-or-close") && c === 0x5d /* ] */) {
        this.#expect = "done";
      } else if (expect === "comma-or-close" && c === 0x2c /* , */) this.#expect = "element";
      else throw new JsonArrayError(`unexpected ${JSON.stringify(buffer[i])} ${describe(expect)}`);
      i++;
    }
    // The whole buffer is scanned (a break leaves an open element with no close in the rest). Keep only that element.
    this.#buffer = start >= 0 ? buffer.slice(start) : "";
    this.#pos = start >= 0 ? buffer.length - start : 0;
    if (this.#buffer.length > this.maxElementChars) {
      throw new JsonArrayError(`an element is longer than ${this.maxElementChars} characters`);
    }
    return elements;
  }
}

function describe(expect: Expect): string {
  switch (expect) {
    case "open":
      return "where the array should open";
    case "element-or-close":
      return "where an object or the end of the array should be";
    case "element":
      return "where an object should be";
    case "comma-or-close":
      return "after an element";
    case "done":
      return "after the end of the array";
  }
}

function parseElement(text: string): Record<string, unknown> {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new JsonArrayError(`an element is not JSON: ${(error as Error).message}`);
  }
}
