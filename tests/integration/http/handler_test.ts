/** The scrape handler behind the exporter's own HTTP server on 127.0.0.1, read by fetch(). */
import assert from "node:assert/strict";
import { ExporterStats } from "../../../lib/engine/stats.ts";
import { formatText, type MetricFamily } from "../../../lib/metrics/exposition.ts";
import { ScrapeCache } from "../../../lib/http/scrape/cache.ts";
import { createHandler } from "../../../lib/http/handler.ts";
import { serveHttp } from "../../../lib/http/server.ts";
import { silentLogger } from "../../../lib/shared/logger.ts";
import {
  handler,
  LIVE,
  OPENMETRICS_BODY,
  OPENMETRICS_TYPE,
  PROMETHEUS_ACCEPT,
  TEXT_BODY,
} from "../../support/handler_fixtures.ts";
import { TEXT_CONTENT_TYPE } from "../../../lib/metrics/exposition.ts";

/** Serves the handler on 127.0.0.1 with a free port for the duration of `use`. */
async function withServer(use: (base: string) => Promise<void>, serve = handler()): Promise<void> {
  const controller = new AbortController();
  const server = serveHttp({
    hostname: "127.0.0.1",
    port: 0,
    handler: serve,
    signal: controller.signal,
    logger: silentLogger,
    stats: new ExporterStats(),
    maxConnections: 16,
  });
  try {
    await use(`http://127.0.0.1:${server.address.port}`);
  } finally {
    controller.abort();
    await server.finished;
  }
}

Deno.test("the handler serves /metrics, /readyz and 405s over a real socket", async () => {
  await withServer(async (base) => {
    const metrics = await fetch(`${base}/metrics`, { headers: { "accept-encoding": "identity" } });
    assert.equal(metrics.status, 200);
    assert.equal(metrics.headers.get("content-type"), TEXT_CONTENT_TYPE);
    assert.equal(await metrics.text(), TEXT_BODY);

    const openMetrics = await fetch(`${base}/metrics`, {
      headers: { accept: PROMETHEUS_ACCEPT, "accept-encoding": "identity" },
    });
    assert.equal(openMetrics.headers.get("content-type"), OPENMETRICS_TYPE);
    assert.equal(await openMetrics.text(), OPENMETRICS_BODY);

    const head = await fetch(`${base}/metrics`, { method: "HEAD", headers: { "accept-encoding": "identity" } });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), String(new TextEncoder().encode(TEXT_BODY).length));
    assert.equal(await head.text(), "");

    const readyz = await fetch(`${base}/readyz`);
    assert.equal(readyz.status, 200);
    await readyz.body?.cancel();

    const post = await fetch(`${base}/metrics`, { method: "POST", body: "x" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
    await post.body?.cancel();
  });
});

Deno.test("a gzipped scrape read by fetch() over a real socket is the whole scrape", async () => {
  await withServer(async (base) => {
    // fetch() asks for gzip and decompresses by itself.
    const response = await fetch(`${base}/metrics`);
    assert.equal(response.headers.get("content-encoding"), "gzip");
    assert.equal(await response.text(), TEXT_BODY);
  });
});

Deno.test("a body of many cached pieces is streamed with its Content-Length, and the next scrape gets it whole again", async () => {
  // Random hex compresses only about half, so the gzipped body is large too (over 1 MiB).
  const hex = () =>
    Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0")).join("");
  const large: MetricFamily[] = [{
    name: "docker_container_info",
    help: "Info.",
    type: "gauge",
    samples: Array.from(
      { length: 40_000 },
      (_, i) => ({ labels: [["id", hex()], ["n", String(i)]] as const, value: 1 }),
    ),
  }];
  const expected = formatText([...large, ...LIVE]);
  const scrape = new ScrapeCache({
    revision: () => "1",
    stableFamilies: () => large,
    liveRevision: () => "1",
    liveFamilies: () => LIVE,
  }, { keepTextMax: 0 });
  const serve = createHandler({ scrape, ready: () => true, version: "9.9.9" });
  assert.ok(scrape.render("text", true).length > 1024 * 1024, "the gzipped body is over 1 MiB");
  assert.ok([...scrape.render("text", false).chunks()].length > 10, "the text is inflated in many pieces");
  await withServer(async (base) => {
    for (const encoding of ["identity", "identity", "gzip", "gzip"]) {
      const response = await fetch(`${base}/metrics`, { headers: { "accept-encoding": encoding } });
      assert.equal(response.headers.get("transfer-encoding"), null, encoding);
      if (encoding === "identity") {
        assert.equal(response.headers.get("content-length"), String(new TextEncoder().encode(expected).length));
      }
      // fetch() inflates the gzipped body itself.
      assert.equal(await response.text(), expected, encoding);
    }
  }, serve);
});
