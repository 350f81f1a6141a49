/**
 * Parses a JSON object fed in pieces of any size and hands back, one at a time, the elements of the arrays found at
 * the key paths asked for (`Images`, `ImageUsage.Items`); everything else is scanned for its structure but never
 * parsed or kept. So an answer of many megabytes, such as the engine's `/system/df`, is never held whole: neither as
 * bytes, nor as one string, nor as one parsed object, and no piece takes longer to scan than its own length. Pure.
 */
import { JsonNesting } from "./json_nesting.ts";

/** A text that is not a JSON object, or whose arrays asked for are not arrays, with what was wrong. */
export class JsonPathError extends Error {
  override name = "JsonPathError";
}

/** One element of an array asked for: the array's key path (`ImageUsage.Items`) and the element, parsed. */
export interface PathElement {
  path: string;
  value: unknown;
}

/** One element longer than this is refused rather than buffered without end. */
const DEFAULT_MAX_ELEMENT_CHARS = 4 << 20;
/** The longest key, number or literal outside the elements: far more than any real one, and a bound on buffering. */
const MAX_TOKEN_CHARS = 64 * 1024;

type ObjectState = "key-or-close" | "key" | "colon" | "value" | "comma-or-close";
type ArrayState = "value-or-close" | "value" | "comma-or-close";

/** An open object or array, with the key path that leads to it (`""` for the document itself). */
type Frame =
  | { kind: "object"; path: string; state: ObjectState; key: string }
  | { kind: "array"; path: string; state: ArrayState; elements: boolean };

/**
 * What is being read across pieces: an element of an array asked for (its text kept from `start`), a key (kept), a
 * string value outside the elements (scanned, not kept), or a number or literal (kept; an element when `element`).
 */
type Token =
  | { kind: "element"; start: number; path: string }
  | { kind: "key"; start: number }
  | { kind: "string"; start: number; path: string; element: boolean }
  | { kind: "scalar"; start: number; path: string; element: boolean };

/**
 * Reads a JSON object and yields the elements of the arrays at `arrays` (key paths joined with `.`). A path asked for
 * may also hold `null`, which counts as an empty array; anything else there is an error. `present` says which of
 * `arrays` and `watch` the document had.
 * @example const decoder = new JsonPathDecoder(["Images"]); for (const piece of pieces) for (const { value } of decoder.push(piece)) use(value); decoder.end();
 */
export class JsonPathDecoder {
  readonly #arrays: ReadonlySet<string>;
  readonly #watch: ReadonlySet<string>;
  readonly #maxElementChars: number;
  #decoder = new TextDecoder("utf-8", { fatal: true });
  /** Unconsumed text: from the start of the token being read, or only what is not yet scanned. */
  #buffer = "";
  #pos = 0;
  readonly #stack: Frame[] = [];
  #token: Token | undefined;
  /** Nesting inside the element being read. */
  readonly #nesting = new JsonNesting();
  /** Inside a string, the last character was a backslash. */
  #escaped = false;
  #opened = false;
  #done = false;
  #sample = "";
  /** The paths of `arrays` and `watch` the document had so far. */
  readonly present = new Set<string>();

  constructor(arrays: readonly string[], options: { watch?: readonly string[]; maxElementChars?: number } = {}) {
    this.#arrays = new Set(arrays);
    this.#watch = new Set(options.watch ?? []);
    this.#maxElementChars = options.maxElementChars ?? DEFAULT_MAX_ELEMENT_CHARS;
  }

  /** Whether the object has opened: after that, an error is a broken object rather than something else entirely. */
  get opened(): boolean {
    return this.#opened;
  }

  /** The first 80 characters of the text, for error messages. */
  get sample(): string {
    return this.#sample;
  }

  /**
   * Feeds the next bytes; returns the elements they completed, parsed, in order.
   * @throws JsonPathError when the text is not a JSON object, a path asked for holds something other than an array
   * or null, or an element is too long.
   */
  push(input: Uint8Array): PathElement[] {
    let text: string;
    try {
      text = this.#decoder.decode(input, { stream: true });
    } catch {
      throw new JsonPathError("the text is not UTF-8");
    }
    if (this.#sample.length < 80) this.#sample += text.slice(0, 80 - this.#sample.length);
    this.#buffer += text;
    return this.#scan();
  }

  /**
   * Ends the input.
   * @throws JsonPathError unless the object was closed, with nothing but whitespace after it.
   */
  end(): void {
    try {
      this.#decoder.decode();
    } catch {
      throw new JsonPathError("the text ends inside a UTF-8 character");
    }
    if (!this.#done) throw new JsonPathError(this.#opened ? "the text ended inside the object" : "the text is empty");
  }

  #scan(): PathElement[] {
    const elements: PathElement[] = [];
    const buffer = this.#buffer;
    // Where the next backslash is, looked up again only once the scan has passed it (see JsonNesting.findClose).
    const backslash = { at: -2 };
    let i = this.#pos;
    scan: while (i < buffer.length) {
      const token = this.#token;
      if (token) {
        switch (token.kind) {
          case "element": {
            const close = this.#nesting.findClose(buffer, i);
            if (close < 0) {
              i = buffer.length;
              break scan;
            }
            elements.push({ path: token.path, value: parse(buffer.slice(token.start, close + 1), "an element") });
            this.#token = undefined;
            this.#valueDone();
            i = close + 1;
            continue;
          }
          case "key":
          case "string": {
            const end = this.#stringEnd(buffer, i, backslash);
            if (end < 0) {
              i = buffer.length;
              break scan;
            }
            this.#token = undefined;
            i = end + 1;
            if (token.kind === "key") {
              const frame = this.#stack.at(-1) as Extract<Frame, { kind: "object" }>;
              frame.key = parse(buffer.slice(token.start, i), "a key") as string;
              frame.state = "colon";
              const path = join(frame.path, frame.key);
              if (this.#watch.has(path)) this.present.add(path);
            } else {
              if (token.element) {
                elements.push({ path: token.path, value: parse(buffer.slice(token.start, i), "a string") });
              }
              this.#valueDone();
            }
            continue;
          }
          case "scalar": {
            let end = i;
            while (end < buffer.length && !isDelimiter(buffer.charCodeAt(end))) end++;
            // A number may go on in the next piece; the object's closing brace ends the last one.
            if (end === buffer.length) {
              i = end;
              break scan;
            }
            const value = parse(buffer.slice(token.start, end), "a value");
            if (token.element) elements.push({ path: token.path, value });
            else if (this.#arrays.has(token.path) && value !== null) throw notAnArray(token.path);
            this.#token = undefined;
            this.#valueDone();
            i = end;
            continue;
          }
        }
      }
      const c = buffer.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
        i++;
        continue;
      }
      const frame = this.#stack.at(-1);
      if (!frame) {
        if (this.#done) throw unexpected(buffer[i], "after the end of the object");
        if (c !== 0x7b /* { */) throw new JsonPathError("the text is not a JSON object");
        this.#opened = true;
        this.#stack.push({ kind: "object", path: "", state: "key-or-close", key: "" });
        i++;
        continue;
      }
      if (frame.kind === "object") {
        const state = frame.state;
        if ((state === "key-or-close" || state === "comma-or-close") && c === 0x7d /* } */) this.#close();
        else if ((state === "key-or-close" || state === "key") && c === 0x22 /* " */) {
          this.#token = { kind: "key", start: i };
          this.#escaped = false;
        } else if (state === "colon" && c === 0x3a /* : */) frame.state = "value";
        else if (state === "comma-or-close" && c === 0x2c /* , */) frame.state = "key";
        else if (state === "value") {
          i = this.#startValue(c, i, join(frame.path, frame.key), false);
          continue;
        } else throw unexpected(buffer[i], describe(state));
        i++;
        continue;
      }
      const state = frame.state;
      if ((state === "value-or-close" || state === "comma-or-close") && c === 0x5d /* ] */) this.#close();
      else if (state === "comma-or-close" && c === 0x2c /* , */) frame.state = "value";
      else if (state === "value-or-close" || state === "value") {
        i = this.#startValue(c, i, frame.elements ? frame.path : `${frame.path}[]`, frame.elements);
        continue;
      } else throw unexpected(buffer[i], "after an element of an array");
      i++;
    }
    // Keep only the token being read, if it is kept: everything before it is done with.
    const token = this.#token;
    const keepFrom = token && !(token.kind === "string" && !token.element) ? token.start : buffer.length;
    this.#buffer = buffer.slice(keepFrom);
    this.#pos = i - keepFrom;
    if (token) token.start -= keepFrom;
    const limit = token?.kind === "element" || (token?.kind === "string" && token.element)
      ? this.#maxElementChars
      : MAX_TOKEN_CHARS;
    if (this.#buffer.length > limit) {
      throw new JsonPathError(
        token?.kind === "element"
          ? `an element is longer than ${limit} characters`
          : `a value is longer than ${limit} characters`,
      );
    }
    return elements;
  }

  /** Starts the value at `i`, whose first character is `c`, at `path`; returns where scanning goes on. */
  #startValue(c: number, i: number, path: string, element: boolean): number {
    if (!element && this.#arrays.has(path)) {
      this.present.add(path);
      if (c === 0x5b /* [ */) {
        this.#stack.push({ kind: "array", path, state: "value-or-close", elements: true });
        return i + 1;
      }
      // `null` is checked once read whole; anything else is not an array.
      if (c !== 0x6e /* n */) throw notAnArray(path);
    }
    if (element && (c === 0x7b /* { */ || c === 0x5b /* [ */)) {
      this.#token = { kind: "element", start: i, path };
      this.#nesting.open();
      return i + 1;
    }
    if (c === 0x22 /* " */) {
      this.#token = { kind: "string", start: i, path, element };
      this.#escaped = false;
      return i + 1;
    }
    if (c === 0x7b /* { */) {
      this.#stack.push({ kind: "object", path, state: "key-or-close", key: "" });
      return i + 1;
    }
    if (c === 0x5b /* [ */) {
      this.#stack.push({ kind: "array", path, state: "value-or-close", elements: false });
      return i + 1;
    }
    if (c === 0x7d /* } */ || c === 0x5d /* ] */ || c === 0x2c /* , */ || c === 0x3a /* : */) {
      throw unexpected(String.fromCharCode(c), "where a value should be");
    }
    this.#token = { kind: "scalar", start: i, path, element };
    return i;
  }

  /** A value ended: its object or array goes on to a comma or its end, or the document is done. */
  #valueDone(): void {
    const frame = this.#stack.at(-1);
    if (frame) frame.state = "comma-or-close";
    else this.#done = true;
  }

  #close(): void {
    this.#stack.pop();
    this.#valueDone();
  }

  /**
   * The index of the quote that ends the string being scanned, from `from`; -1 when the text ends first (whether the
   * last character was an escaping backslash is kept for the next piece).
   */
  #stringEnd(text: string, from: number, backslash: { at: number }): number {
    let i = from;
    while (i < text.length) {
      if (this.#escaped) {
        this.#escaped = false;
        i++;
        continue;
      }
      const quote = text.indexOf('"', i);
      if (backslash.at !== -1 && backslash.at < i) backslash.at = text.indexOf("\\", i);
      if (backslash.at >= 0 && (quote < 0 || backslash.at < quote)) {
        this.#escaped = true;
        i = backslash.at + 1;
        continue;
      }
      return quote;
    }
    return -1;
  }
}

/** The key path of member `key` of the object at `path`. */
function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

/** Whether `c` ends a number or literal: whitespace, a comma, or a closing bracket or brace. */
function isDelimiter(c: number): boolean {
  return c === 0x2c || c === 0x7d || c === 0x5d || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function parse(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new JsonPathError(`${what} is not JSON: ${(error as Error).message}`);
  }
}

/** The error for `path` holding something other than an array or null. */
function notAnArray(path: string): JsonPathError {
  return new JsonPathError(`${path} is neither an array nor null`);
}

function unexpected(character: string, where: string): JsonPathError {
  return new JsonPathError(`unexpected ${JSON.stringify(character)} ${where}`);
}

function describe(state: ObjectState): string {
  switch (state) {
    case "key-or-close":
      return "where a key or the end of an object should be";
    case "key":
      return "where a key should be";
    case "colon":
      return "after a key";
    case "value":
      return "where a value should be";
    case "comma-or-close":
      return "after a member of an object";
  }
}
