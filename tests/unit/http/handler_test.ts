import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { TEXT_CONTENT_TYPE } from "../../../lib/metrics/exposition.ts";
import { ScrapeBody, type ScrapeCache } from "../../../lib/http/scrape/cache.ts";
import { acceptsGzip, createHandler, negotiateFormat } from "../../../lib/http/handler.ts";
import {
  handler,
  OPENMETRICS_BODY,
  OPENMETRICS_TYPE,
  PROMETHEUS_ACCEPT,
  TEXT_BODY,
} from "../../support/handler_fixtures.ts";

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
