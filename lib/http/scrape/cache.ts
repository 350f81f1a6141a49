/**
 * Renders the scrape body once per change rather than once per scrape. The container and engine
 * families are formatted (and gzipped, when a scrape asks for gzip) only when the registry or engine changed,
 * and then only the families whose inputs changed: an event leaves the resource families as they were, a
 * collection of resource use leaves the container families (see `Segment`). The exporter's own few families, which change
 * often, are formatted when they changed and appended. Scrapes that come while neither part changed
 * (Prometheus servers scraping together) are all served the same body.
 */
import { constants, crc32, deflateRawSync, inflateRawSync } from "node:zlib";
import { concatBytes } from "../../shared/mod.ts";
import {
  byName,
  formatOpenMetricsBody,
  formatPieces,
  formatText,
  type MetricFamily,
  OPENMETRICS_CONTENT_TYPE,
  OPENMETRICS_EOF,
  TEXT_CONTENT_TYPE,
} from "../../metrics/mod.ts";
import { crc32Combine, GZIP_HEADER, gzipTail } from "./gzip.ts";

/** The two exposition formats served. */
export type ScrapeFormat = "text" | "openmetrics";

/**
 * Where the families come from. `revision` changes whenever `stableFamilies` would return something new, and
 * `liveRevision` whenever `liveFamilies` would. `liveFamilies` is only called right after `liveRevision`, and
 * must describe what that revision was taken of. A stable family with `inputs` (see `MetricFamily.inputs`) is
 * formatted again only when they changed.
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
 * nothing big of its own (concurrent scrapes would each hold a copy; see bench/RESULTS.md).
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

/** The stable part as of one revision, in one format. */
interface Rendering {
  revision: string;
  /** The text's length in bytes. */
  length: number;
  /** Its families, formatted, in the order they are written. */
  segments: Segment[];
  /**
   * The gzip header and every segment's deflated text, one after the other, with the CRC-32 of the whole text;
   * made by the first gzip scrape of the rendering. Once a body was joined (see `JOIN_MAX`), a view of its start.
   */
  gzip?: { head: Uint8Array; crc: number };
  /**
   * The whole text as it is sent, made by the first scrape without gzip while it is at most `keepTextMax` bytes: the
   * segments' pieces, with runs of small ones copied together (see `COALESCE_BELOW`).
   */
  text?: Uint8Array[];
  /** The live part as of the last scrape of this rendering, and the bodies made with it. */
  live?: LivePart;
}

/**
 * Families next to each other in the output that share their `inputs` (the same array: all container families
 * share one, all resource families another, and the small families without inputs go together), formatted and
 * kept deflated, as text, or both (never neither). A later rendering takes a segment over as it is when it has
 * the same families with the same inputs. The families of a segment are deflated as one stream: deflated one
 * by one, each family's lines would lose the container ids the family before repeats, and the body would be noticeably
 * larger (see bench/RESULTS.md).
 */
interface Segment {
  /** The names of its families, which identify it across renderings. */
  key: string;
  inputs: readonly unknown[] | undefined;
  /** The text's length in bytes. */
  length: number;
  /**
   * Until when (the cache's clock, ms) it is deflated at `FAST_LEVEL`, `RECOMPRESS_AFTER_MS` after it was made;
   * after that, a scrape that sends a fast copy deflates it again at the default level. `-Infinity` for a segment
   * deflated once, at the default level (the first rendering, or one after a large one: `FAST_TEXT_MAX`).
   */
  fastUntil: number;
  /**
   * The text as raw deflate, made by the first gzip scrape (or when the rendering's text is too large to keep), and
   * made again at the default level when a fast copy lasted (`fastUntil`). Once the rendering has a gzip head, a view
   * of it.
   */
  deflated?: Deflated;
  /**
   * The text, encoded, in pieces of up to 256 KiB: kept once a scrape without gzip came, and only while the
   * rendering's text is at most `keepTextMax` bytes (a text is many times its deflated size).
   */
  text?: Uint8Array[];
}

/**
 * A text as raw deflate, in pieces each deflated on its own and ending in a sync flush (so more deflate data may
 * follow), so that each inflates on its own; once in a gzip head, views of it. `crc` is the CRC-32 of the text, so
 * that the CRC of a whole body is worked out without reading its text again.
 */
interface Deflated {
  pieces: Uint8Array[];
  crc: number;
  /** The zlib level it was deflated at: `FAST_LEVEL` or `DEFAULT_LEVEL`. */
  level: number;
}

/** Deflates a buffer at a zlib level the way `deflateRawSync(bytes, { finishFlush: Z_SYNC_FLUSH, level })` does. */
export type DeflateFunction = (bytes: Uint8Array, level: number) => Uint8Array;

/**
 * The level a segment is first deflated at: a render after an event waits for it. Level 1 deflates in a fraction
 * of the default level's time, to a larger body, and so shortens the time from an event to its series on a gzip
 * /metrics (see bench/RESULTS.md).
 */
const FAST_LEVEL = 1;
/**
 * zlib's default level, for a segment that lasted `RECOMPRESS_AFTER_MS`: every scrape of it pays for a larger body
 * (a lower level's larger body made scrapes slower; see bench/RESULTS.md).
 */
const DEFAULT_LEVEL = 6;

/**
 * How old a segment deflated fast must be for a scrape that sends it to deflate it again at the default level. A
 * segment that changes at every scrape (resource metrics collected as often as Prometheus scrapes) is deflated once,
 * fast; one that stays is deflated twice, once fast, and then scraped at its smallest. In between, scrapes
 * that come together (Prometheus servers, or a poller) share the fast copy.
 */
const RECOMPRESS_AFTER_MS = 1000;

/**
 * The largest rendering whose next rendering is deflated fast. A larger one is deflated once, at the default level:
 * two copies of a large text deflated, and two gzip heads, cost more memory than the fast level saves time (see
 * bench/RESULTS.md).
 */
const FAST_TEXT_MAX = 8 * 1024 * 1024;

const syncFlushDeflate: DeflateFunction = (bytes, level) =>
  deflateRawSync(bytes, { finishFlush: constants.Z_SYNC_FLUSH, level });

interface LivePart {
  revision: string;
  /** The live families, formatted and encoded. */
  bytes: Uint8Array;
  gzip?: ScrapeBody;
  plain?: ScrapeBody;
}

/**
 * The largest text kept for scrapes without gzip, by default. A larger one is inflated from the deflated copy, a
 * piece at a time, as each such scrape is sent: CPU for each such scrape, rather than the whole text held for good
 * after one `curl` without `--compressed` (see bench/RESULTS.md).
 */
const KEEP_TEXT_MAX = 8 * 1024 * 1024;

/**
 * The largest gzip body sent as one array, by default. Sent as the cached head and a small tail, a body costs the
 * server a second write per scrape, which shows in the scrape's latency. Joining copies the head once per live
 * revision, which for scrapes more than 100 ms apart (the process is read again by then) is every scrape, and a
 * response still being sent keeps its own copy. Above this size the copy and the copies in flight cost more than the
 * write saves (see bench/RESULTS.md).
 */
const JOIN_MAX = 1024 * 1024;

/**
 * Arrays of a plain body shorter than this are sent together, copied into one: a write per small segment would
 * cost more than the copy. (Larger ones go as they are: one very large array is slower to send than the same bytes
 * in pieces; see bench/RESULTS.md.)
 */
const COALESCE_BELOW = 64 * 1024;

const encoder = new TextEncoder();

/**
 * Caches renderings by revision and format. A rendering is made in the encoding the scrape asked for: deflated
 * for a gzip scrape (what Prometheus asks for, unless told `enable_compression: false`), the text for one
 * without; the other is made from it when a scrape first asks for that. A text larger than `keepTextMax` is
 * kept only deflated, and inflated for each scrape without gzip.
 * A gzipped body is one gzip member: the header, each segment's cached deflate, then the few live lines in stored
 * deflate blocks, with the CRC-32 of the whole text worked out from each part's: nothing is compressed per
 * scrape. (Two gzip members would be simpler, but browsers, fetch() and curl read only the first.) A segment made
 * after a change is deflated fast, and once more, smaller, by the first scrape that finds it a second old (see
 * `FAST_LEVEL`, `RECOMPRESS_AFTER_MS` and `FAST_TEXT_MAX`); one that changes at every scrape is deflated only fast.
 */
export class ScrapeCache {
  #cached = new Map<ScrapeFormat, Rendering>();
  /** Set by the first scrape without gzip; until then only the deflated text is kept (Prometheus always gzips). */
  #plainWanted = false;

  readonly #keepTextMax: number;
  readonly #joinMax: number;
  readonly #deflate: DeflateFunction;
  readonly #recompressAfterMs: number;
  readonly #fastTextMax: number;
  readonly #now: () => number;

  /**
   * `keepTextMax`: the largest text kept for scrapes without gzip (default 8 MiB); larger ones are inflated.
   * `joinMax`: the largest gzip body sent as one array (default 1 MiB); larger ones go as the cached head and a tail.
   * `deflate`: how a piece is deflated (node:zlib's, sync-flushed; tests count the calls).
   * `recompressAfterMs`: how old a segment deflated fast must be to be deflated again (default 1 s).
   * `fastTextMax`: the largest rendering whose next one is deflated fast (default 8 MiB of text).
   * `now`: the clock that ages segments, in ms (default `performance.now`).
   */
  constructor(
    private readonly sources: ScrapeSources,
    options: {
      keepTextMax?: number;
      joinMax?: number;
      deflate?: DeflateFunction;
      recompressAfterMs?: number;
      fastTextMax?: number;
      now?: () => number;
    } = {},
  ) {
    this.#keepTextMax = options.keepTextMax ?? KEEP_TEXT_MAX;
    this.#joinMax = options.joinMax ?? JOIN_MAX;
    this.#deflate = options.deflate ?? syncFlushDeflate;
    this.#recompressAfterMs = options.recompressAfterMs ?? RECOMPRESS_AFTER_MS;
    this.#fastTextMax = options.fastTextMax ?? FAST_TEXT_MAX;
    this.#now = options.now ?? (() => performance.now());
  }

  /** The current body in `format`, gzipped when `gzip` is true. */
  render(format: ScrapeFormat, gzip: boolean): ScrapeBody {
    const contentType = format === "text" ? TEXT_CONTENT_TYPE : OPENMETRICS_CONTENT_TYPE;
    if (!gzip) this.#plainWanted = true;
    const stable = this.#stable(format, gzip);
    // Scrapes that send the deflated text: gzip ones, and those of a text too large to keep.
    if (gzip || stable.length > this.#keepTextMax) this.#recompress(stable);
    const live = this.#live(stable, format);
    if (gzip) {
      if (live.gzip) return live.gzip;
      const head = stable.gzip ??= gzipHead(stable.segments, (segment) => this.#deflatePieces(segment));
      const tail = gzipTail(live.bytes, head.crc, stable.length);
      const length = head.head.length + tail.length;
      let chunks = [head.head, tail];
      if (length <= this.#joinMax) {
        // One array, not two: a body in two costs the server a second write per scrape (see `JOIN_MAX`). The body
        // starts with a copy of the head; that copy becomes the head, so the cache holds one, not two.
        const joined = concatBytes(chunks);
        rebase(head, stable.segments, joined);
        chunks = [joined];
      }
      return live.gzip = new ScrapeBody(contentType, true, length, () => chunks);
    }
    if (live.plain) return live.plain;
    const liveBytes = live.bytes;
    const length = stable.length + liveBytes.length;
    if (stable.length <= this.#keepTextMax) {
      const text = stable.text ??= plainText(stable.segments);
      return live.plain = new ScrapeBody(contentType, false, length, () => [...text, liveBytes]);
    }
    // Too large to keep: inflated for each scrape, a piece at a time. What each segment is as of now is what is
    // sent: a later rendering may replace a segment's deflated text.
    const deflated = stable.segments.map((segment) => segment.deflated!);
    return live.plain = new ScrapeBody(contentType, false, length, function* () {
      yield* coalesce(function* () {
        for (const segment of deflated) yield* inflatePieces(segment);
        yield liveBytes;
      }());
    });
  }

  /**
   * Deflates again at the default level each segment of `stable` deflated fast that is `recompressAfterMs` old, and
   * drops what was made of the fast copies: the gzip head and the bodies (those being sent keep theirs).
   */
  #recompress(stable: Rendering): void {
    let recompressed = false;
    for (const segment of stable.segments) {
      const deflated = segment.deflated;
      if (!deflated || deflated.level === DEFAULT_LEVEL || this.#levelFor(segment) === FAST_LEVEL) continue;
      // Each piece inflates on its own to the text it was made of, so the pieces stay where they were, and only one
      // is inflated at a time, never the whole text.
      segment.deflated = this.#deflatePieces(segment, segment.text ?? inflatePieces(deflated));
      recompressed = true;
    }
    if (!recompressed) return;
    stable.gzip = undefined;
    if (!stable.live) return;
    stable.live.gzip = undefined;
    // A plain body is made of the deflated text only when the text is too large to keep.
    if (stable.length > this.#keepTextMax) stable.live.plain = undefined;
  }

  /** The level to deflate `segment` at now (see `Segment.fastUntil`). */
  #levelFor(segment: Segment): number {
    return this.#now() < segment.fastUntil ? FAST_LEVEL : DEFAULT_LEVEL;
  }

  /** `segment`'s text (`text`, or the kept one), deflated a piece at a time at the level for its age. */
  #deflatePieces(segment: Segment, text: Iterable<Uint8Array> = segment.text!): Deflated {
    return deflatePieces(text, this.#deflate, this.#levelFor(segment));
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
   * The stable part for the current revision, rendered if it changed: each segment whose inputs changed (or that
   * has none) formatted, encoded and (for a gzip scrape, or a text too large to keep) deflated one piece at a time,
   * so that a large exposition never exists whole, as a string or as samples; the others taken over.
   */
  #stable(format: ScrapeFormat, gzip: boolean): Rendering {
    const revision = this.sources.revision();
    const cached = this.#cached.get(format);
    if (cached && cached.revision === revision) return cached;
    this.#cached.delete(format);
    const previous = new Map<string, Segment>();
    for (const segment of cached?.segments ?? []) if (segment.inputs) previous.set(segment.key, segment);
    const keepTextMax = this.#plainWanted ? this.#keepTextMax : 0;
    // The size of the last rendering says whether this one is small enough to deflate fast (see `FAST_TEXT_MAX`);
    // the first one (the first scrape's, made without a change to wait for) is deflated once.
    const fast = cached !== undefined && cached.length <= this.#fastTextMax;
    const level = fast ? FAST_LEVEL : DEFAULT_LEVEL;
    const buffer = new Uint8Array(PIECE_BYTES);
    const segments: Segment[] = [];
    let length = 0;
    for (const families of bySharedInputs(byName(this.sources.stableFamilies()))) {
      const key = families.map((family) => family.name).join(" ");
      const old = previous.get(key);
      // A segment taken over without a deflated copy gets one when a gzip scrape builds the head (`gzipHead`).
      let segment = old && sameInputs(old.inputs!, families[0].inputs) ? old : undefined;
      if (!segment) {
        segment = formatSegment(key, families, format, buffer, keepTextMax - length, gzip, this.#deflate, level);
        // Aged from when it is done: a render that took longer than `recompressAfterMs` is not deflated twice at once.
        segment.fastUntil = fast ? this.#now() + this.#recompressAfterMs : -Infinity;
      }
      length += segment.length;
      segments.push(segment);
    }
    if (length > keepTextMax) {
      // Too large to keep: the rendering is kept only deflated, the texts of segments kept so far included.
      for (const segment of segments) {
        if (!segment.text) continue;
        segment.deflated ??= this.#deflatePieces(segment);
        segment.text = undefined;
      }
    }
    const rendering: Rendering = { revision, length, segments };
    this.#cached.set(format, rendering);
    return rendering;
  }
}

/** The families in runs that share one `inputs` array (or have none), in order. */
function* bySharedInputs(families: readonly MetricFamily[]): Generator<MetricFamily[]> {
  let run: MetricFamily[] = [];
  for (const family of families) {
    if (run.length > 0 && family.inputs !== run[0].inputs) {
      yield run;
      run = [];
    }
    run.push(family);
  }
  if (run.length > 0) yield run;
}

function sameInputs(previous: readonly unknown[], current: readonly unknown[] | undefined): boolean {
  if (current === undefined || current.length !== previous.length) return false;
  if (current === previous) return true;
  for (let i = 0; i < current.length; i++) if (current[i] !== previous[i]) return false;
  return true;
}

/**
 * Bytes of text deflated at a time: pieces this large deflate nearly as small as whole families, and smaller ones
 * noticeably larger (see bench/RESULTS.md).
 */
const PIECE_BYTES = 256 * 1024;

/**
 * A segment's families formatted in `format`: the text kept while it is at most `keepTextMax` bytes, and deflated
 * piece by piece at `level` when `deflate` is set or the text is too large to keep. `buffer` is scratch space of
 * `PIECE_BYTES`. Its `fastUntil` is the caller's to set.
 */
function formatSegment(
  key: string,
  families: MetricFamily[],
  format: ScrapeFormat,
  buffer: Uint8Array,
  keepTextMax: number,
  deflate: boolean,
  deflateFn: DeflateFunction,
  level: number,
): Segment {
  const deflater = new PieceDeflater(buffer, keepTextMax, deflate, deflateFn, level);
  for (const piece of formatPieces(families, format)) deflater.push(piece);
  return { key, inputs: families[0].inputs, fastUntil: -Infinity, ...deflater.finish() };
}

/**
 * Encodes text into a reused buffer and, whenever the buffer fills, keeps a copy of the piece (while the text
 * is at most `keepTextMax` bytes) and deflates it on its own at `level`, sync-flushed (when `deflate` is set, or as soon as
 * the text is too large to keep). Only the small strings it is given, the kept pieces and the deflated ones are
 * allocated, so a rendering leaves little behind for the garbage collector (large strings of the text and its lines
 * would live long enough to be moved to V8's old space; see bench/RESULTS.md).
 */
class PieceDeflater {
  #filled = 0;
  #length = 0;
  /** The text's pieces, while the text is at most `keepTextMax` bytes. */
  #text: Uint8Array[] | undefined;
  #deflated: DeflateBuilder | undefined;

  constructor(
    private readonly buffer: Uint8Array,
    private readonly keepTextMax: number,
    deflate: boolean,
    private readonly deflateFn: DeflateFunction,
    private readonly level: number,
  ) {
    this.#text = keepTextMax > 0 ? [] : undefined;
    this.#deflated = deflate || !this.#text ? new DeflateBuilder(deflateFn, level) : undefined;
  }

  push(text: string): void {
    let rest = text;
    while (rest.length > 0) {
      const { read, written } = encoder.encodeInto(rest, this.buffer.subarray(this.#filled));
      this.#filled += written;
      if (read === rest.length) return;
      // The buffer is full (or too full for the next character).
      this.#flush();
      rest = rest.slice(read);
    }
  }

  finish(): { length: number; deflated?: Deflated; text?: Uint8Array[] } {
    this.#flush();
    return { length: this.#length, deflated: this.#deflated?.finish(), text: this.#text };
  }

  #flush(): void {
    if (this.#filled === 0) return;
    const bytes = this.buffer.subarray(0, this.#filled);
    this.#length += bytes.length;
    if (this.#text && this.#length > this.keepTextMax) {
      // Too large to keep: from here on the segment is kept only deflated, the pieces so far included.
      if (!this.#deflated) {
        this.#deflated = new DeflateBuilder(this.deflateFn, this.level);
        for (const piece of this.#text) this.#deflated.add(piece);
      }
      this.#text = undefined;
    }
    this.#text?.push(bytes.slice());
    this.#deflated?.add(bytes);
    this.#filled = 0;
  }
}

/** Deflates pieces each on its own at `level`, sync-flushed, one after the other, and continues their CRC-32. */
class DeflateBuilder {
  #pieces: Uint8Array[] = [];
  #crc = 0;

  constructor(private readonly deflate: DeflateFunction, private readonly level: number) {}

  add(bytes: Uint8Array): void {
    this.#pieces.push(this.deflate(bytes, this.level));
    this.#crc = crc32(bytes, this.#crc);
  }

  finish(): Deflated {
    return { pieces: this.#pieces, crc: this.#crc, level: this.level };
  }
}

/** A text, deflated a piece at a time at `level`. */
function deflatePieces(text: Iterable<Uint8Array>, deflate: DeflateFunction, level: number): Deflated {
  const builder = new DeflateBuilder(deflate, level);
  for (const piece of text) builder.add(piece);
  return builder.finish();
}

/** The text back from the deflated pieces, a piece at a time as it is iterated. */
function* inflatePieces(deflated: Deflated): Generator<Uint8Array> {
  for (const piece of deflated.pieces) yield inflateRawSync(piece, { finishFlush: constants.Z_SYNC_FLUSH });
}

/**
 * The gzip header followed by every segment's deflated text (made by `deflate` from its kept text if it has none),
 * in one array, and the CRC-32 of the whole text. Each segment's deflated text becomes a view of that array, so the
 * cache holds it once.
 */
function gzipHead(
  segments: readonly Segment[],
  deflate: (segment: Segment) => Deflated,
): { head: Uint8Array; crc: number } {
  let crc = 0;
  for (const segment of segments) {
    segment.deflated ??= deflate(segment);
    crc = crc32Combine(crc, segment.deflated.crc, segment.length);
  }
  const head = { head: concatBytes([GZIP_HEADER, ...segments.flatMap((segment) => segment.deflated!.pieces)]), crc };
  rebase(head, segments, head.head);
  return head;
}

/**
 * The whole text as a scrape without gzip sends it: every segment's pieces, a text dropped while only gzip was
 * asked for brought back from its deflated copy (not a second rendering), runs of small pieces copied together.
 */
function plainText(segments: readonly Segment[]): Uint8Array[] {
  for (const segment of segments) segment.text ??= Array.from(inflatePieces(segment.deflated!));
  return Array.from(coalesce(segments.flatMap((segment) => segment.text!)));
}

/** Points the head and each segment's deflated text at the same bytes in `buffer`, which starts with a copy of them. */
function rebase(head: { head: Uint8Array }, segments: readonly Segment[], buffer: Uint8Array): void {
  let at = GZIP_HEADER.length;
  for (const segment of segments) {
    const pieces = segment.deflated!.pieces.map((piece) => {
      const view = buffer.subarray(at, at + piece.length);
      at += piece.length;
      return view;
    });
    segment.deflated = { ...segment.deflated!, pieces };
  }
  head.head = buffer.subarray(0, at);
}

/** The arrays in order, those shorter than `COALESCE_BELOW` copied together into one as they come. */
function* coalesce(chunks: Iterable<Uint8Array>): Generator<Uint8Array> {
  let small: Uint8Array[] = [];
  let smallLength = 0;
  for (const chunk of chunks) {
    if (chunk.length >= COALESCE_BELOW) {
      if (small.length > 0) yield small.length === 1 ? small[0] : concatBytes(small);
      small = [];
      smallLength = 0;
      yield chunk;
      continue;
    }
    small.push(chunk);
    smallLength += chunk.length;
    if (smallLength >= COALESCE_BELOW) {
      yield concatBytes(small);
      small = [];
      smallLength = 0;
    }
  }
  if (small.length > 0) yield small.length === 1 ? small[0] : concatBytes(small);
}
