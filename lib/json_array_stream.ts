/**
 * Parses a JSON array of objects fed in pieces of any size, one element at a time, so that a 13 MB container
 * list is never held whole: neither as bytes, nor as one string, nor as one parsed array. Pure.
 */

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
  /** Nesting inside the current element; 0 between elements. */
  #depth = 0;
  #inString = false;
  #escaped = false;
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
    let start = this.#depth > 0 ? 0 : -1;
    let i = this.#pos;
    /** The next backslash at or after the scan position; -1 when there is none, -2 before the first look. */
    let nextBackslash = -2;
    for (; i < buffer.length; i++) {
      const c = buffer.charCodeAt(i);
      if (this.#depth > 0) {
        if (this.#inString) {
          if (this.#escaped) this.#escaped = false;
          else if (c === 0x5c /* \ */) this.#escaped = true;
          else if (c === 0x22 /* " */) this.#inString = false;
          else {
            // Most of a list is plain string characters: let indexOf cross them rather than this loop.
            if (nextBackslash !== -1 && nextBackslash < i) nextBackslash = buffer.indexOf("\\", i);
            const quote = buffer.indexOf('"', i);
            const stop = quote < 0 ? buffer.length : quote;
            i = (nextBackslash >= 0 && nextBackslash < stop ? nextBackslash : stop) - 1;
          }
        } else if (c === 0x22) this.#inString = true;
        else if (c === 0x7b /* { */ || c === 0x5b /* [ */) this.#depth++;
        else if ((c === 0x7d /* } */ || c === 0x5d /* ] */) && --this.#depth === 0) {
          elements.push(parseElement(buffer.slice(start, i + 1)));
          start = -1;
          this.#expect = "comma-or-close";
        }
        continue;
      }
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
      const expect = this.#expect;
      if (expect === "open" && c === 0x5b) this.#expect = "element-or-close";
      else if ((expect === "element-or-close" || expect === "element") && c === 0x7b) {
        start = i;
        this.#depth = 1;
      } else if ((expect === "element-or-close" || expect === "comma-or-close") && c === 0x5d) this.#expect = "done";
      else if (expect === "comma-or-close" && c === 0x2c /* , */) this.#expect = "element";
      else throw new JsonArrayError(`unexpected ${JSON.stringify(buffer[i])} ${describe(expect)}`);
    }
    // Keep only the element still open.
    this.#buffer = start >= 0 ? buffer.slice(start) : "";
    this.#pos = start >= 0 ? i - start : 0;
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
