import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { formatOpenMetrics, formatText, type MetricFamily, TEXT_CONTENT_TYPE } from "../../lib/exposition.ts";
import { ScrapeBody, ScrapeCache } from "../../lib/scrape_cache.ts";
import { acceptsGzip, createHandler, negotiateFormat } from "../../lib/server.ts";

const PROMETHEUS_ACCEPT =
  "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
const OPENMETRICS_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8";

const STABLE: MetricFamily[] = [
  {
    name: "docker_container_info",
    help: "Info.",
    type: "gauge",
    samples: Array.from({ length: 200 }, (_, i) => ({ labels: [["name", `container-${i}`]] as const, value: 1 })),
  },
  { name: "docker_container_restarts_total", help: "Restarts.", type: "counter", samples: [{ labels: [], value: 2 }] },
];
const LIVE: MetricFamily[] = [{ name: "docker_up", help: "Up.", type: "gauge", samples: [{ labels: [], value: 1 }] }];

/** The whole scrape in each format, formatted in one go. */
const TEXT_BODY = formatText([...STABLE, ...LIVE]);
const OPENMETRICS_BODY = formatOpenMetrics([...STABLE, ...LIVE]);

function handler(ready = true): (request: Request) => Promise<Response> {
  const scrape = new ScrapeCache({
    revision: () => "1",
    stableFamilies: () => STABLE,
    liveRevision: () => "1",
    liveFamilies: () => LIVE,
  });
  return createHandler({ scrape, ready: () => ready, version: "9.9.9" });
}

function get(path: string, headers: Record<string, string> = {}, method = "GET"): Request {
  return new Request(`http://localhost${path}`, { method, headers });
}

async function gunzipWithDecompressionStream(body: Uint8Array): Promise<string> {
  const stream = new Blob([body as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("gzip"));
  return await new Response(stream).text();
}

Deno.test("GET /metrics serves the text format 0.0.4 by default", async () => {
  const response = await handler()(get("/metrics"));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), TEXT_CONTENT_TYPE);
  assert.equal(response.headers.get("content-encoding"), null);
  assert.equal(response.headers.get("cache-control"), "no-store");
  assert.equal(response.headers.get("vary"), "Accept, Accept-Encoding");
  const body = await response.text();
  assert.equal(body, TEXT_BODY);
  assert.equal(response.headers.get("content-length"), String(new TextEncoder().encode(body).length));
});

Deno.test("HEAD /metrics has no body but the same headers as GET", async () => {
  const variants: Record<string, string>[] = [{}, { accept: PROMETHEUS_ACCEPT }, { "accept-encoding": "gzip" }];
  for (const headers of variants) {
    const getResponse = await handler()(get("/metrics", headers));
    const headResponse = await handler()(get("/metrics", headers, "HEAD"));
    assert.equal(headResponse.status, 200);
    assert.deepEqual([...headResponse.headers], [...getResponse.headers]);
    assert.equal(headResponse.body, null);
    await getResponse.body?.cancel();
  }
});

Deno.test("GET /metrics serves OpenMetrics for Prometheus's real Accept header", async () => {
  const response = await handler()(get("/metrics", { accept: PROMETHEUS_ACCEPT }));
  assert.equal(response.headers.get("content-type"), OPENMETRICS_TYPE);
  assert.equal(await response.text(), OPENMETRICS_BODY);
});

Deno.test("negotiateFormat() picks text when OpenMetrics is refused or weaker, and for odd Accept values; the most specific range decides", () => {
  const table: Array<[string | null, "text" | "openmetrics"]> = [
    [PROMETHEUS_ACCEPT, "openmetrics"],
    ["application/openmetrics-text", "openmetrics"],
    ["APPLICATION/OPENMETRICS-TEXT; Version=1.0.0", "openmetrics"],
    ["text/plain;q=0.5, application/openmetrics-text;q=0.5", "openmetrics"],
    ["application/openmetrics-text;version=1.0.0;q=0,text/plain;version=0.0.4;q=0.5", "text"],
    ["application/openmetrics-text; q=0", "text"],
    ["text/plain;q=0.9, application/openmetrics-text;q=0.8", "text"],
    ["text/*, application/openmetrics-text;q=0.5", "text"],
    ["application/openmetrics-text;q=abc", "text"],
    [null, "text"],
    ["", "text"],
    [",,,", "text"],
    ["*/*", "text"],
    ["garbage", "text"],
    ["application/json", "text"],
    ["application/*", "text"],
    // The most specific range decides: */* does not outweigh what text/plain says.
    ["application/openmetrics-text;q=0.5, text/plain;q=0.1, */*", "openmetrics"],
    ["application/openmetrics-text;q=0.5, text/plain;q=0, */*;q=0.8", "openmetrics"],
    ["application/openmetrics-text;q=0.5, text/*;q=0.2, */*", "openmetrics"],
    ["application/openmetrics-text;q=0.5, text/*;q=0.9, */*;q=0.1", "text"],
  ];
  for (const [accept, format] of table) assert.equal(negotiateFormat(accept), format, String(accept));
});

Deno.test("GET /metrics serves text when OpenMetrics has q=0", async () => {
  const response = await handler()(get("/metrics", { accept: "application/openmetrics-text;q=0, */*;q=0.1" }));
  assert.equal(response.headers.get("content-type"), TEXT_CONTENT_TYPE);
  assert.equal(await response.text(), TEXT_BODY);
});

Deno.test("acceptsGzip() follows Accept-Encoding q-values", () => {
  const table: Array<[string | null, boolean]> = [
    ["gzip", true],
    ["gzip, deflate, br", true],
    ["GZIP", true],
    ["x-gzip", true],
    ["*", true],
    ["br;q=1, gzip;q=0.1", true],
    ["gzip;q=0", false],
    ["gzip;q=0, *", false],
    ["identity", false],
    ["deflate, br", false],
    ["*;q=0", false],
    ["", false],
    [null, false],
  ];
  for (const [header, expected] of table) assert.equal(acceptsGzip(header), expected, String(header));
});

Deno.test("GET /metrics gzips when Accept-Encoding allows, and the body decompresses to the plain body", async () => {
  for (const [accept, plain] of [[undefined, TEXT_BODY], [PROMETHEUS_ACCEPT, OPENMETRICS_BODY]] as const) {
    const headers: Record<string, string> = { "accept-encoding": "gzip" };
    if (accept) headers.accept = accept;
    const response = await handler()(get("/metrics", headers));
    assert.equal(response.headers.get("content-encoding"), "gzip");
    const body = new Uint8Array(await response.arrayBuffer());
    assert.equal(response.headers.get("content-length"), String(body.length));
    assert.ok(body.length < new TextEncoder().encode(plain).length, "gzip makes the body smaller");
    // node:zlib reads every member; this shows the bytes themselves are right.
    assert.equal(new TextDecoder().decode(gunzipSync(body)), plain);
  }
});

// The gzipped body is two gzip members (cached stable part + fresh live part). The WHATWG Compression Streams
// standard makes data after the first member an error, so DecompressionStream("gzip") throws on it; Deno's own
// fetch() silently keeps only the first member, and curl --compressed fails with "(23) Failed writing received
// data". Only decoders that read multi-member files (Go's gzip.Reader, so Prometheus itself; zlib's gunzip) see
// the whole scrape.
Deno.test('GET /metrics gzip body decodes fully with DecompressionStream("gzip")', async () => {
  const response = await handler()(get("/metrics", { "accept-encoding": "gzip" }));
  const body = new Uint8Array(await response.arrayBuffer());
  assert.equal(await gunzipWithDecompressionStream(body), TEXT_BODY);
});

Deno.test("GET /metrics does not gzip for gzip;q=0 or identity", async () => {
  for (const acceptEncoding of ["gzip;q=0", "identity", "deflate, br"]) {
    const response = await handler()(get("/metrics", { "accept-encoding": acceptEncoding }));
    assert.equal(response.headers.get("content-encoding"), null, acceptEncoding);
    assert.equal(await response.text(), TEXT_BODY, acceptEncoding);
  }
});

Deno.test("GET / serves a landing page linking to /metrics", async () => {
  const response = await handler()(get("/"));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/html; charset=utf-8");
  const html = await response.text();
  assert.ok(html.includes('<a href="metrics">/metrics</a>'));
  assert.ok(html.includes("Version 9.9.9."));
});

Deno.test("GET /healthz answers 200 even while not ready", async () => {
  for (const ready of [true, false]) {
    const response = await handler(ready)(get("/healthz"));
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "ok\n");
  }
});

Deno.test("GET /readyz answers 200 or 503 as the ready callback says", async () => {
  const ready = await handler(true)(get("/readyz"));
  assert.equal(ready.status, 200);
  assert.equal(await ready.text(), "ready\n");
  const notReady = await handler(false)(get("/readyz"));
  assert.equal(notReady.status, 503);
  assert.equal(await notReady.text(), "not ready: Docker is not synced\n");
  const head = await handler(false)(get("/readyz", {}, "HEAD"));
  assert.equal(head.status, 503);
  assert.equal(head.body, null);
});

Deno.test("unknown paths answer 404", async () => {
  for (const path of ["/metric", "/metrics/", "/METRICS", "/favicon.ico", "/healthz/x", "//metrics"]) {
    const response = await handler()(get(path));
    assert.equal(response.status, 404, path);
    await response.body?.cancel();
  }
  const post = await handler()(get("/nowhere", {}, "POST"));
  assert.equal(post.status, 404);
  await post.body?.cancel();
});

Deno.test("POST and other methods on known paths answer 405 with Allow: GET, HEAD", async () => {
  for (const path of ["/", "/metrics", "/healthz", "/readyz"]) {
    for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
      const response = await handler()(get(path, {}, method));
      assert.equal(response.status, 405, `${method} ${path}`);
      assert.equal(response.headers.get("allow"), "GET, HEAD", `${method} ${path}`);
      await response.body?.cancel();
    }
  }
});

/** Serves the handler on 127.0.0.1 with a free port for the duration of `use`. */
async function withServer(use: (base: string) => Promise<void>, serve = handler()): Promise<void> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, serve);
  try {
    await use(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    await server.shutdown();
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

Deno.test("the handler sends a scrape's cached chunks as they are, never joined into a copy", async () => {
  const chunks = [new TextEncoder().encode("a 1\n"), new TextEncoder().encode("b 2\n")];
  let iterated = 0;
  class ChunksOnly extends ScrapeBody {
    override get body(): Uint8Array {
      throw new Error("joined: a copy per scrape");
    }
  }
  const body = new ChunksOnly(TEXT_CONTENT_TYPE, false, 8, () => {
    iterated++;
    return chunks;
  });
  const scrape = { render: () => body } as unknown as ScrapeCache;
  const response = await createHandler({ scrape, ready: () => true, version: "9.9.9" })(get("/metrics"));
  assert.equal(response.headers.get("content-length"), "8");
  assert.equal(await response.text(), "a 1\nb 2\n");
  assert.equal(iterated, 1);
  assert.deepEqual(chunks.map((chunk) => chunk.byteLength), [4, 4], "the cached arrays are left as they were");
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
