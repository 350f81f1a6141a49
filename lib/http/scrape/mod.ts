/**
 * A scrape rendered once per change rather than once per scrape: the scrape cache, and the gzip framing that
 * joins its separately deflated parts.
 *
 * May import `metrics/` and `shared/`.
 * @module
 */
export { ScrapeCache } from "./cache.ts";
export type { ScrapeFormat } from "./cache.ts";
