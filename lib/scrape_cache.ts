/**
 * Renders the scrape body once per change rather than once per scrape. The container and engine
 * families are formatted (and gzipped, when a scrape asks for gzip) only when the registry or engine changed;
 * the exporter's own few families, which change often, are formatted when they changed and appended. Scrapes
 * that come while neither part changed (Prometheus servers scraping together) are all served the same body.
 */
import { constants, crc32, deflateRawSync, inflateRawSync } from "node:zlib";
import { concatBytes } from "./bytes.ts";
import {
  formatOpenMetricsBody,
  formatPieces,
  formatText,
  type MetricFamily,
  OPENMETRICS_CONTENT_TYPE,
  OPENMETRICS_EOF,
  TEXT_CONTENT_TYPE,
} from "./exposition.ts";

/** The two exposition formats served. */
export type ScrapeFormat = "text" | "openmetrics";

/**
 * Where the families come from. `revision` changes whenever `stableFamilies` would return something new, and
 * `liveRevision` whenever `liveFamilies` would. `liveFamilies` is only called right after `liveRevision`, and
 * must describe what that revision was taken of.
 */
export interface ScrapeSources {
  revision(): string;
  stableFamilies(): MetricFamily[];
  liveRevision(): string;
  liveFamilies(): MetricFamily[];
}

/**
 * One scrape's body, ready to send, in pieces that are sent as they are: the large ones are the cache's own,
 * shared by every scrape of a revision (for a gzip body up to `JOIN_MAX`, of a live revision), so a scrape copies
 * nothing big of its own (at 10,000 containers a copy per scrape was 1.4 MB gzipped, 33 MB plain, and concurrent
 * scrapes held several).
 */
export class ScrapeBody {
  constructor(
    readonly contentType: string,
    readonly gzipped: boolean,
    /** Bytes in all chunks together. */
    readonly length: number,
    /** The body's bytes in order, made as they are iterated (a large plain text is inflated then). Read-only. */
    readonly chunks: () => Iterable<Uint8Array>,
  ) {}

  /** The whole body in one new array: a copy, for tests and callers that want one array. */
  get body(): Uint8Array {
    return concatBytes([...this.chunks()]);
  }
}

interface Rendering {
  revision: string;
  /** The text's length in bytes. */
  length: number;
  /**
   * The text deflated, made by the first gzip scrape of the rendering (or when the text is too large to keep);
   * a rendering always has this or `text`, or both.
   */
  gzip?: Deflated;
  /**
   * The text, encoded, in pieces of 256 KiB: kept once a scrape without gzip came, and only up to
   * `keepTextMax` bytes (at 10,000 containers it is 33 MB against 1.4 MB deflated).
   */
  text?: Uint8Array[];
  /** The live part as of the last scrape of this rendering, and the bodies made with it. */
  live?: LivePart;
}

/**
 * The gzip header and the text as raw deflate ending in a sync flush (so more deflate data may follow), with the
 * text's CRC-32. `pieces` marks where each piece deflated on its own ends, so that each inflates on its own.
 */
interface Deflated {
  /** The gzip header and the deflated text; once a body was joined (see `JOIN_MAX`), a view of its start. */
  head: Uint8Array;
  crc: number;
  pieces: number[];
}

/** Deflates a buffer the way `deflateRawSync(bytes, { finishFlush: Z_SYNC_FLUSH })` does. */
export type DeflateFunction = (bytes: Uint8Array) => Uint8Array;

const syncFlushDeflate: DeflateFunction = (bytes) => deflateRawSync(bytes, { finishFlush: constants.Z_SYNC_FLUSH });

interface LivePart {
  revision: string;
  /** The live families, formatted and encoded. */
  bytes: Uint8Array;
  gzip?: ScrapeBody;
  plain?: ScrapeBody;
}

/**
 * The largest text kept for scrapes without gzip, by default. A larger one is inflated from the deflated copy, a
 * piece at a time, as each such scrape is sent: some 40 ms of CPU a scrape at 10,000 containers rather than 33 MB
 * held for good after one `curl` without `--compressed`.
 */
const KEEP_TEXT_MAX = 8 * 1024 * 1024;

/**
 * The largest gzip body sent as one array, by default. Sent as the cached head and a small tail, a body costs the
 * server a second write per scrape: ten scrapes in step of the same 446 KiB (1,000 containers) had a p50 of 2.12 ms
 * in two arrays and 1.85 ms in one. Joining copies the head once per live revision, which for scrapes more than
 * 100 ms apart (the process is read again by then) is every scrape, and a response still being sent keeps its own
 * copy. Above this size (some 2,300 containers) the copy and the copies in flight cost more than the write saves.
 */
const JOIN_MAX = 1024 * 1024;

const encoder = new TextEncoder();

/**
 * Caches renderings by revision and format. A rendering is made in the encoding the scrape asked for: deflated
 * for a gzip scrape (what Prometheus asks for, unless told `enable_compression: false`), the text for one
 * without; the other is made from it when a scrape first asks for that. A text larger than `keepTextMax` is
 * kept only deflated, and inflated for each scrape without gzip.
 * A gzipped body is one gzip member built from the cached deflate of the stable part, followed by the few
 * live lines in stored deflate blocks, with the CRC-32 continued across both: nothing is compressed per scrape.
 * (Two gzip members would be simpler, but browsers, fetch() and curl read only the first.)
 */
export class ScrapeCache {
  #cached = new Map<ScrapeFormat, Rendering>();
  /** Set by the first scrape without gzip; until then only the deflated text is kept (Prometheus always gzips). */
  #plainWanted = false;

  readonly #keepTextMax: number;
  readonly #joinMax: number;
  readonly #deflate: DeflateFunction;

  /**
   * `keepTextMax`: the largest text kept for scrapes without gzip (default 8 MiB); larger ones are inflated.
   * `joinMax`: the largest gzip body sent as one array (default 1 MiB); larger ones go as the cached head and a tail.
   * `deflate`: how a piece is deflated (node:zlib's, sync-flushed; tests count the calls).
   */
  constructor(
    private readonly sources: ScrapeSources,
    options: { keepTextMax?: number; joinMax?: number; deflate?: DeflateFunction } = {},
  ) {
    this.#keepTextMax = options.keepTextMax ?? KEEP_TEXT_MAX;
    this.#joinMax = options.joinMax ?? JOIN_MAX;
    this.#deflate = options.deflate ?? syncFlushDeflate;
  }

  /** The current body in `format`, gzipped when `gzip` is true. */
  render(format: ScrapeFormat, gzip: boolean): ScrapeBody {
    const contentType = format === "text" ? TEXT_CONTENT_TYPE : OPENMETRICS_CONTENT_TYPE;
    if (!gzip) this.#plainWanted = true;
    const stable = this.#stable(format, gzip);
    const live = this.#live(stable, format);
    if (gzip) {
      if (live.gzip) return live.gzip;
      // A rendering made for a scrape without gzip is deflated once, from its text, by the first gzip scrape.
      stable.gzip ??= deflatePieces(stable.text!, this.#deflate);
      const [head, tail] = gzipMember(stable.gzip, stable.length, live.bytes);
      const length = head.length + tail.length;
      let chunks = [head, tail];
      if (length <= this.#joinMax) {
        // One array, not two: a body in two costs the server a second write per scrape (see `JOIN_MAX`). The body
        // starts with a copy of the head; that copy becomes the head, so the cache holds one, not two.
        const joined = concatBytes(chunks);
        stable.gzip.head = joined.subarray(0, head.length);
        chunks = [joined];
      }
      return live.gzip = new ScrapeBody(contentType, true, length, () => chunks);
    }
    if (live.plain) return live.plain;
    // A text dropped while only gzip was asked for comes back from the deflated copy, not a second rendering.
    const deflated = stable.gzip;
    if (!stable.text && stable.length <= this.#keepTextMax) stable.text = Array.from(inflatePieces(deflated!));
    const text = stable.text;
    const liveBytes = live.bytes;
    return live.plain = new ScrapeBody(contentType, false, stable.length + liveBytes.length, function* () {
      yield* text ?? inflatePieces(deflated!);
      yield liveBytes;
    });
  }

  /** The live part for the current live revision, formatted if it changed. */
  #live(stable: Rendering, format: ScrapeFormat): LivePart {
    const revision = this.sources.liveRevision();
    if (stable.live?.revision === revision) return stable.live;
    const format_ = format === "text" ? formatText : formatOpenMetricsBody;
    const text = format_(this.sources.liveFamilies()) + (format === "openmetrics" ? OPENMETRICS_EOF : "");
    return stable.live = { revision, bytes: encoder.encode(text) };
  }

  /**
   * The stable part for the current revision, rendered if it changed: formatted, encoded and (for a gzip
   * scrape, or a text too large to keep) deflated one piece at a time, so that a large exposition never exists
   * whole, as a string or as samples.
   */
  #stable(format: ScrapeFormat, gzip: boolean): Rendering {
    const revision = this.sources.revision();
    const cached = this.#cached.get(format);
    if (cached && cached.revision === revision) return cached;
    this.#cached.delete(format);
    const deflater = new PieceDeflater(this.#plainWanted ? this.#keepTextMax : 0, gzip, this.#deflate);
    for (const piece of formatPieces(this.sources.stableFamilies(), format)) deflater.push(piece);
    const { length, gzip: deflated, text } = deflater.finish();
    const rendering: Rendering = { revision, length, gzip: deflated, text };
    this.#cached.set(format, rendering);
    return rendering;
  }
}

/** Bytes of text deflated at a time: deflating each family whole gives 1-2 % less, 64 KiB pieces 8 % more. */
const PIECE_BYTES = 256 * 1024;

/**
 * Encodes text into one reused buffer and, whenever the buffer fills, keeps a copy of the piece (while the text
 * is at most `keepTextMax` bytes) and deflates it on its own, sync-flushed, into one gzip head (when `deflate`
 * is set, or as soon as the text is too large to keep). Only the small strings it is given, the kept pieces and
 * the deflated ones are allocated, so a rendering leaves little behind for the garbage collector (with 256 KiB
 * strings, much of the text and its lines lived long enough to be moved to V8's old space).
 */
class PieceDeflater {
  #buffer = new Uint8Array(PIECE_BYTES);
  #filled = 0;
  #length = 0;
  /** The text's pieces, while the text is at most `keepTextMax` bytes. */
  #text: Uint8Array[] | undefined;
  #gzip: GzipBuilder | undefined;

  constructor(private readonly keepTextMax: number, deflate: boolean, private readonly deflateFn: DeflateFunction) {
    this.#text = keepTextMax > 0 ? [] : undefined;
    this.#gzip = deflate || !this.#text ? new GzipBuilder(deflateFn) : undefined;
  }

  push(text: string): void {
    let rest = text;
    while (rest.length > 0) {
      const { read, written } = encoder.encodeInto(rest, this.#buffer.subarray(this.#filled));
      this.#filled += written;
      if (read === rest.length) return;
      // The buffer is full (or too full for the next character).
      this.#flush();
      rest = rest.slice(read);
    }
  }

  finish(): { length: number; gzip?: Deflated; text?: Uint8Array[] } {
    this.#flush();
    return { length: this.#length, gzip: this.#gzip?.finish(), text: this.#text };
  }

  #flush(): void {
    if (this.#filled === 0) return;
    const bytes = this.#buffer.subarray(0, this.#filled);
    this.#length += bytes.length;
    if (this.#text && this.#length > this.keepTextMax) {
      // Too large to keep: from here on the rendering is kept only deflated, the pieces so far included.
      if (!this.#gzip) {
        this.#gzip = new GzipBuilder(this.deflateFn);
        for (const piece of this.#text) this.#gzip.add(piece);
      }
      this.#text = undefined;
    }
    this.#text?.push(bytes.slice());
    this.#gzip?.add(bytes);
    this.#filled = 0;
  }
}

/** Deflates pieces each on its own, sync-flushed, after one gzip header, and continues their CRC-32. */
class GzipBuilder {
  #deflated: Uint8Array[] = [GZIP_HEADER];
  #pieces: number[] = [];
  #deflatedLength = GZIP_HEADER.length;
  #crc = 0;

  constructor(private readonly deflate: DeflateFunction) {}

  add(bytes: Uint8Array): void {
    const deflated = this.deflate(bytes);
    this.#deflated.push(deflated);
    this.#deflatedLength += deflated.length;
    this.#pieces.push(this.#deflatedLength);
    this.#crc = crc32(bytes, this.#crc);
  }

  finish(): Deflated {
    return { head: concatBytes(this.#deflated), crc: this.#crc, pieces: this.#pieces };
  }
}

/** A kept text, deflated a piece at a time. */
function deflatePieces(text: readonly Uint8Array[], deflate: DeflateFunction): Deflated {
  const builder = new GzipBuilder(deflate);
  for (const piece of text) builder.add(piece);
  return builder.finish();
}

/** The text back from the deflated pieces, a piece at a time as it is iterated. */
function* inflatePieces(gzip: { head: Uint8Array; pieces: readonly number[] }): Generator<Uint8Array> {
  let from = GZIP_HEADER.length;
  for (const to of gzip.pieces) {
    yield inflateRawSync(gzip.head.subarray(from, to), { finishFlush: constants.Z_SYNC_FLUSH });
    from = to;
  }
}

/** The fixed 10-byte gzip header: magic, deflate, no flags, no mtime, no extra flags, OS unknown. */
const GZIP_HEADER = new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);

/**
 * One gzip member (RFC 1952) holding `head` (the gzip header and deflated text, sync-flushed) followed by `tail`,
 * as two chunks: the cached head itself, then the tail and the trailer.
 * The tail, a few kilobytes of live lines, goes in stored (uncompressed) deflate blocks: compressing it
 * would set up a fresh 256 KiB zlib state on every scrape to save about 2 KB.
 */
function gzipMember(head: { head: Uint8Array; crc: number }, headLength: number, tail: Uint8Array): Uint8Array[] {
  const tailDeflated = storedBlocks(tail, 8);
  const view = new DataView(tailDeflated.buffer, tailDeflated.length - 8);
  view.setUint32(0, crc32(tail, head.crc) >>> 0, true);
  view.setUint32(4, (headLength + tail.length) % 2 ** 32, true);
  return [head.head, tailDeflated];
}

/** The largest stored deflate block (RFC 1951 §3.2.4: LEN is 16 bits). */
const MAX_STORED = 0xffff;

/**
 * `data` as the last stored blocks of a deflate stream, which must be at a byte boundary (as after a sync flush):
 * each block is a header byte (BFINAL on the last, BTYPE 00), LEN and its complement NLEN, then the bytes.
 * `room` zero bytes follow, for the caller to fill.
 */
function storedBlocks(data: Uint8Array, room: number): Uint8Array {
  const blocks = Math.max(1, Math.ceil(data.length / MAX_STORED));
  const out = new Uint8Array(data.length + 5 * blocks + room);
  let from = 0;
  let at = 0;
  for (let block = 1; block <= blocks; block++) {
    const length = Math.min(MAX_STORED, data.length - from);
    out[at] = block === blocks ? 1 : 0;
    out[at + 1] = length & 0xff;
    out[at + 2] = length >> 8;
    out[at + 3] = ~length & 0xff;
    out[at + 4] = (~length >> 8) & 0xff;
    out.set(data.subarray(from, from + length), at + 5);
    from += length;
    at += 5 + length;
  }
  return out;
}
