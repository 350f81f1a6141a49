/**
 * Micro-benchmarks of a scrape's CPU work: building the families of N containers, formatting them as text
 * and OpenMetrics, and the scrape cache when only the exporter's own metrics changed (the steady state), when
 * nothing did (scrapes that come together) and when everything did.
 * Container families make their samples while they are formatted, so the formatting figures include that work;
 * the families figure gathers every family's samples at once to time it alone. A scrape's body is read to its end.
 * Run with `deno task bench` or `deno bench --allow-read bench/exposition_bench.ts`.
 */
import type { ContainerRecord } from "../lib/engine/registry.ts";
import { formatOpenMetrics, formatText, type MetricFamily } from "../lib/metrics/exposition.ts";
import { containerFamilies, ContainerLines } from "../lib/metrics/container_families.ts";
import { engineFamilies } from "../lib/metrics/exporter_families.ts";
import { ContainerLabels, labelKeyMatcher } from "../lib/metrics/labels.ts";
import { resourceFamilies } from "../lib/metrics/resource_families.ts";
import type { ContainerUsage } from "../lib/resources/usage.ts";
import type { LastSeen } from "../lib/resources/collector.ts";
import { type ScrapeBody, ScrapeCache } from "../lib/http/scrape/cache.ts";
import { BENCH_ENGINE, records, scrapeFamilies, usages } from "./fixtures.ts";

const SIZES = [100, 1_000, 10_000];

/** Goes through a body's chunks as the server sends them (a large plain text is inflated then). */
function read(body: ScrapeBody): void {
  for (const chunk of body.chunks()) void chunk;
}
const noLabels = new ContainerLabels(labelKeyMatcher([]));

for (const n of SIZES) {
  const containers = records(n);
  const { stable, live } = scrapeFamilies(n);
  // Few iterations for the big sizes: one takes long enough to time on its own.
  const heavy = n >= 10_000 ? { n: 8, warmup: 2 } : {};

  Deno.bench({
    name: `containerFamilies() for ${n} containers, all samples made`,
    group: `families ${n}`,
    ...heavy,
    fn: () => void containerFamilies(containers, noLabels).forEach((family) => family.samples),
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
  let liveRevision = 0;
  // An event, as after a `docker run`: the newest container's record replaced (the registry never changes one in
  // place), so its lines are formatted (the others' are kept) and every container family is deflated again, fast.
  // It has no resource reading yet.
  const eventSources = (withResources: boolean) => {
    const current = records(n).map((record) => ({ ...record, state: "running" as const }));
    const usage = usages(current.slice(0, n - 1));
    return () => {
      current[n - 1] = { ...current[n - 1] };
      return stableOf(current, withResources ? usage : undefined);
    };
  };
  /** A cache whose stable part is new at every render (a new revision from `stableFamilies`), as is its live part. */
  const changingCache = (stableFamilies: () => MetricFamily[]) =>
    new ScrapeCache({
      revision: () => String(revision++),
      stableFamilies,
      liveRevision: () => String(liveRevision++),
      liveFamilies: () => live,
    });
  const changing = changingCache(eventSources(false));
  // A Prometheus scrape every 15 s: the containers did not change, the exporter's own metrics (its CPU time) did.
  const steady = new ScrapeCache({
    revision: () => "1",
    stableFamilies: () => stable,
    liveRevision: () => String(liveRevision++),
    liveFamilies: () => live,
  });
  // Scrapes that come together: nothing changed at all.
  const together = new ScrapeCache({
    revision: () => "1",
    stableFamilies: () => stable,
    liveRevision: () => "1",
    liveFamilies: () => live,
  });
  Deno.bench({
    name: `scrape of ${n} containers, own metrics changed, gzip`,
    group: `scrape ${n}`,
    baseline: true,
    fn: () => read(steady.render("text", true)),
  });
  Deno.bench({
    name: `scrape of ${n} containers, own metrics changed, identity`,
    group: `scrape ${n}`,
    fn: () => read(steady.render("text", false)),
  });
  Deno.bench({
    name: `scrape of ${n} containers, nothing changed, gzip`,
    group: `scrape ${n}`,
    fn: () => read(together.render("text", true)),
  });
  Deno.bench({
    name: `scrape of ${n} containers, registry changed, gzip`,
    group: `scrape ${n}`,
    ...heavy,
    fn: () => read(changing.render("text", true)),
  });
  // A scraper without gzip (curl, or Prometheus with `enable_compression: false`): nothing is deflated for it,
  // unless the text is too large to keep (10,000 containers), which is then inflated again as it is sent.
  const changingPlain = changingCache(eventSources(false));
  Deno.bench({
    name: `scrape of ${n} containers, registry changed, identity`,
    group: `scrape ${n}`,
    ...heavy,
    fn: () => read(changingPlain.render("text", false)),
  });

  // With resource metrics (the default): an event leaves the resource families as they were, and a collection
  // of resource use (every reading new) leaves the container families.
  const eventWithResources = changingCache(eventSources(true));
  Deno.bench({
    name: `scrape of ${n} containers with resource metrics, registry changed, gzip`,
    group: `resources ${n}`,
    baseline: true,
    ...heavy,
    fn: () => read(eventWithResources.render("text", true)),
  });
  const collected = records(n).map((record) => ({ ...record, state: "running" as const }));
  let round = 0;
  const collection = changingCache(() => stableOf(collected, usages(collected, round++)));
  Deno.bench({
    name: `scrape of ${n} containers with resource metrics, readings changed, gzip`,
    group: `resources ${n}`,
    ...heavy,
    fn: () => read(collection.render("text", true)),
  });
}

/** Each container's lines, kept across renders as the exporter keeps them: an event formats one container's. */
const containerLines = new ContainerLines();

/** The collector's lastSeen for each set of readings, made once per set as the collector makes it per collection. */
const lastSeenOf = new WeakMap<ReadonlyMap<string, ContainerUsage>, Map<string, LastSeen>>();

/** The stable families of `containers` as the exporter makes them, with resource families when `usage` is given. */
function stableOf(containers: readonly ContainerRecord[], usage?: ReadonlyMap<string, ContainerUsage>): MetricFamily[] {
  if (usage && !lastSeenOf.has(usage)) {
    const seen = new Map<string, LastSeen>();
    for (const record of containers) if (usage.has(record.id)) seen.set(record.id, { record, seconds: 1_795_600_000 });
    lastSeenOf.set(usage, seen);
  }
  return [
    ...containerFamilies(containers, noLabels, containerLines),
    ...engineFamilies(BENCH_ENGINE),
    ...(usage ? resourceFamilies(containers, usage, { labels: noLabels, lastSeen: lastSeenOf.get(usage) }) : []),
  ];
}
