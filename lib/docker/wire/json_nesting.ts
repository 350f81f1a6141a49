/**
 * Finds where a JSON object or array that arrives in pieces of text ends, by tracking nesting outside strings;
 * the two streaming decoders (the event stream's objects, the container list's elements) share it. Pure.
 */

/** The scan state of one open JSON object or array, kept between pieces. */
export class JsonNesting {
  /** Open brackets and braces; 0 when no value is open. */
  #depth = 0;
  #inString = false;
  #escaped = false;

  /** Whether a value is open: `open()` was called and its closing bracket not yet found. */
  get inValue(): boolean {
    return this.#depth > 0;
  }

  /** Starts a value at its opening `{` or `[`; scanning goes on from the character after it. */
  open(): void {
    this.#depth = 1;
    this.#inString = false;
    this.#escaped = false;
  }

  /** Forgets the open value. */
  reset(): void {
    this.#depth = 0;
    this.#inString = false;
    this.#escaped = false;
  }

  /**
   * Scans `text` from `from` inside the open value. Returns the index of the bracket that closes it, or -1 when
   * the text ends first (the state is kept: the next call goes on with the next piece of the same text).
   */
  findClose(text: string, from: number): number {
    // The next backslash and quote at or after the scan position; -1 when there is none, -2 before the first look.
    // Both are looked up again only once the scan has passed them: a string dense with escapes would otherwise
    // search to its closing quote after every one of them.
    let nextBackslash = -2;
    let nextQuote = -2;
    for (let i = from; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (c === 0x5c /* \ */) this.#escaped = true;
        else if (c === 0x22 /* " */) this.#inString = false;
        else {
          // Most of a document is plain string characters: let indexOf cross them rather than this loop.
          if (nextBackslash !== -1 && nextBackslash < i) nextBackslash = text.indexOf("\\", i);
          if (nextQuote !== -1 && nextQuote < i) nextQuote = text.indexOf('"', i);
          const stop = nextQuote < 0 ? text.length : nextQuote;
          i = (nextBackslash >= 0 && nextBackslash < stop ? nextBackslash : stop) - 1;
        }
      } else if (c === 0x22) this.#inString = true;
      else if (c === 0x7b /* { */ || c === 0x5b /* [ */) this.#depth++;
      else if ((c === 0x7d /* } */ || c === 0x5d /* ] */) && --this.#depth === 0) return i;
    }
    return -1;
  }
}
