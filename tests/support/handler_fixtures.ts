/** A scrape handler over fixed families, and those families formatted whole, for the handler's tests. */
import { formatOpenMetrics, formatText, type MetricFamily } from "../../lib/metrics/exposition.ts";
import { ScrapeCache } from "../../lib/http/scrape/cache.ts";
import { createHandler } from "../../lib/http/handler.ts";

/** The Accept header Prometheus sends. */
export const PROMETHEUS_ACCEPT =
  "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
export const OPENMETRICS_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8";

export const STABLE: MetricFamily[] = [
  {
    name: "docker_container_info",
    help: "Info.",
    type: "gauge",
    samples: Array.from({ length: 200 }, (_, i) => ({ labels: [["name", `container-${i}`]] as const, value: 1 })),
  },
  { name: "docker_container_restarts_total", help: "Restarts.", type: "counter", samples: [{ labels: [], value: 2 }] },
];
export const LIVE: MetricFamily[] = [{
  name: "docker_up",
  help: "Up.",
  type: "gauge",
  samples: [{ labels: [], value: 1 }],
}];

/** The whole scrape in each format, formatted in one go. */
export const TEXT_BODY = formatText([...STABLE, ...LIVE]);
export const OPENMETRICS_BODY = formatOpenMetrics([...STABLE, ...LIVE]);

/** The handler over `STABLE` and `LIVE`, ready or not. */
export function handler(ready = true): (request: Request) => Promise<Response> {
  const scrape = new ScrapeCache({
    revision: () => "1",
    stableFamilies: () => STABLE,
    liveRevision: () => "1",
    liveFamilies: () => LIVE,
  });
  return createHandler({ scrape, ready: () => ready, version: "9.9.9" });
}
