/**
 * Micro-benchmarks of a scrape's CPU work: building the families of N containers, formatting them as text
 * and OpenMetrics, and the scrape cache when nothing changed (the steady state) and when everything did.
 * Run with `deno task bench` or `deno bench --allow-read bench/exposition_bench.ts`.
 */
import { formatOpenMetrics, formatText } from "../lib/exposition.ts";
import { containerFamilies, labelKeyMatcher } from "../lib/metrics.ts";
import { ScrapeCache } from "../lib/scrape_cache.ts";
import { records, scrapeFamilies } from "./fixtures.ts";

const SIZES = [100, 1_000, 10_000];
const noLabels = labelKeyMatcher([]);

for (const n of SIZES) {
  const containers = records(n);
  const { stable, live } = scrapeFamilies(n);
  // Few iterations for the big sizes: one takes long enough to time on its own.
  const heavy = n >= 10_000 ? { n: 8, warmup: 2 } : {};

  Deno.bench({
    name: `containerFamilies() for ${n} containers`,
    group: `families ${n}`,
    ...heavy,
    fn: () => void containerFamilies(containers, noLabels),
  });
  Deno.bench({
    name: `formatText() of ${n} containers`,
    group: `format ${n}`,
    baseline: true,
    ...heavy,
    fn: () => void formatText(stable),
  });
  Deno.bench({
    name: `formatOpenMetrics() of ${n} containers`,
    group: `format ${n}`,
    ...heavy,
    fn: () => void formatOpenMetrics(stable),
  });

  let revision = 0;
  const changing = new ScrapeCache({
    revision: () => String(revision++),
    stableFamilies: () => stable,
    liveFamilies: () => live,
  });
  const steady = new ScrapeCache({ revision: () => "1", stableFamilies: () => stable, liveFamilies: () => live });
  Deno.bench({
    name: `scrape of ${n} containers, nothing changed, gzip`,
    group: `scrape ${n}`,
    baseline: true,
    fn: () => void steady.render("text", true),
  });
  Deno.bench({
    name: `scrape of ${n} containers, nothing changed, identity`,
    group: `scrape ${n}`,
    fn: () => void steady.render("text", false),
  });
  Deno.bench({
    name: `scrape of ${n} containers, registry changed, gzip`,
    group: `scrape ${n}`,
    ...heavy,
    fn: () => void changing.render("text", true),
  });
}
