/**
 * Renders the scrape body once per change rather than once per scrape. The container and engine
 * families are formatted (and gzipped) only when the registry or engine changed; the exporter's own
 * few families, which change all the time, are formatted per scrape and appended.
 */
import { constants, crc32, deflateRawSync } from "node:zlib";
import {
  formatOpenMetricsBody,
  formatText,
  type MetricFamily,
  OPENMETRICS_CONTENT_TYPE,
  OPENMETRICS_EOF,
  TEXT_CONTENT_TYPE,
} from "./exposition.ts";

/** The two exposition formats served. */
export type ScrapeFormat = "text" | "openmetrics";

/** Where the families come from. `revision` changes whenever `stableFamilies` would return something new. */
export interface ScrapeSources {
  revision(): string;
  stableFamilies(): MetricFamily[];
  liveFamilies(): MetricFamily[];
}

/** One scrape's body, ready to send. */
export interface ScrapeBody {
  contentType: string;
  body: Uint8Array;
  gzipped: boolean;
}

interface Rendering {
  revision: string;
  text: Uint8Array;
  /** The text as raw deflate ending in a sync flush (so more deflate data may follow), and its CRC-32. */
  deflated?: { data: Uint8Array; crc: number };
}

const encoder = new TextEncoder();

/**
 * Caches renderings by revision and format.
 * A gzipped body is one gzip member built from the cached deflate of the stable part, followed by a
 * fresh small deflate of the live part, with the CRC-32 continued across both: only the few live lines are
 * compressed per scrape. (Two gzip members would be simpler, but browsers, fetch() and curl read only the first.)
 */
export class ScrapeCache {
  #cached = new Map<ScrapeFormat, Rendering>();

  constructor(private readonly sources: ScrapeSources) {}

  /** The current body in `format`, gzipped when `gzip` is true. */
  render(format: ScrapeFormat, gzip: boolean): ScrapeBody {
    const contentType = format === "text" ? TEXT_CONTENT_TYPE : OPENMETRICS_CONTENT_TYPE;
    const stable = this.#stable(format);
    const format_ = format === "text" ? formatText : formatOpenMetricsBody;
    const liveText = format_(this.sources.liveFamilies()) + (format === "openmetrics" ? OPENMETRICS_EOF : "");
    const live = encoder.encode(liveText);
    if (!gzip) return { contentType, body: concat(stable.text, live), gzipped: false };
    stable.deflated ??= {
      data: deflateRawSync(stable.text, { finishFlush: constants.Z_SYNC_FLUSH }),
      crc: crc32(stable.text),
    };
    return { contentType, body: gzipMember(stable.deflated, stable.text.length, live), gzipped: true };
  }

  #stable(format: ScrapeFormat): Rendering {
    const revision = this.sources.revision();
    const cached = this.#cached.get(format);
    if (cached && cached.revision === revision) return cached;
    const families = this.sources.stableFamilies();
    const text = encoder.encode(format === "text" ? formatText(families) : formatOpenMetricsBody(families));
    const rendering = { revision, text };
    this.#cached.set(format, rendering);
    return rendering;
  }
}

/** The fixed 10-byte gzip header: magic, deflate, no flags, no mtime, no extra flags, OS unknown. */
const GZIP_HEADER = new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);

/** One gzip member (RFC 1952) holding `head` (already deflated, sync-flushed) followed by `tail`. */
function gzipMember(head: { data: Uint8Array; crc: number }, headLength: number, tail: Uint8Array): Uint8Array {
  const tailDeflated = deflateRawSync(tail);
  const trailer = new Uint8Array(8);
  const view = new DataView(trailer.buffer);
  view.setUint32(0, crc32(tail, head.crc) >>> 0, true);
  view.setUint32(4, (headLength + tail.length) % 2 ** 32, true);
  return concat(concat(concat(GZIP_HEADER, head.data), tailDeflated), trailer);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
