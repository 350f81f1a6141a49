/**
 * Renders the scrape body once per change rather than once per scrape. The container and engine
 * families are formatted (and gzipped) only when the registry or engine changed; the exporter's own
 * few families, which change all the time, are formatted per scrape and appended.
 */
import { gzipSync } from "node:zlib";
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
  gzip?: Uint8Array;
}

const encoder = new TextEncoder();

/**
 * Caches renderings by revision and format.
 * A gzipped body is two gzip members, the cached one and a fresh small one; RFC 1952 allows a gzip file
 * to hold several members, and every HTTP client decompressing gzip reads them all.
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
    stable.gzip ??= gzipSync(stable.text);
    return { contentType, body: concat(stable.gzip, gzipSync(live)), gzipped: true };
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

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
