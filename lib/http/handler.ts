/**
 * The HTTP handler: `/metrics`, a landing page, `/healthz` and `/readyz`.
 * A plain `(req: Request) => Promise<Response>`, so tests call it directly as well as over a socket.
 */
import type { ScrapeCache, ScrapeFormat } from "./scrape/mod.ts";

/** What the handler needs from the rest of the exporter. */
export interface HandlerOptions {
  scrape: ScrapeCache;
  /** True once the first sync succeeded and while the engine answers. */
  ready: () => boolean;
  version: string;
}

interface MediaRange {
  type: string;
  q: number;
}

/** Parses an `Accept` or `Accept-Encoding` header into lower-cased ranges with their q-values. */
export function parseQualityList(header: string | null): MediaRange[] {
  if (!header) return [];
  return header.split(",").map((part) => {
    const [type, ...params] = part.split(";").map((s) => s.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith("q="));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    return { type, q: Number.isFinite(q) ? Math.min(Math.max(q, 0), 1) : 0 };
  }).filter((range) => range.type !== "");
}

/**
 * Picks the exposition format for an `Accept` header: OpenMetrics when the client asks for it at least
 * as strongly as for the text format (as Prometheus does), else the text format 0.0.4.
 */
export function negotiateFormat(accept: string | null): ScrapeFormat {
  const ranges = parseQualityList(accept);
  // The q-value of the most specific range present (RFC 9110 §12.5.1): `text/plain;q=0` refuses the text format
  // even next to `*/*`.
  const quality = (...types: string[]) => {
    for (const type of types) {
      const matching = ranges.filter((r) => r.type === type);
      if (matching.length > 0) return Math.max(...matching.map((r) => r.q));
    }
    return 0;
  };
  const openMetrics = quality("application/openmetrics-text");
  const text = quality("text/plain", "text/*", "*/*");
  return openMetrics > 0 && openMetrics >= text ? "openmetrics" : "text";
}

/** True when an `Accept-Encoding` header allows gzip. */
export function acceptsGzip(acceptEncoding: string | null): boolean {
  const ranges = parseQualityList(acceptEncoding);
  const gzip = ranges.find((r) => r.type === "gzip" || r.type === "x-gzip") ?? ranges.find((r) => r.type === "*");
  return gzip !== undefined && gzip.q > 0;
}

const LANDING_PAGE = (version: string) =>
  `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Docker exporter</title></head>
<body>
<h1>Docker exporter</h1>
<p>Version ${version}. Prometheus metrics about this host's Docker containers.</p>
<ul>
<li><a href="metrics">/metrics</a>: the metrics</li>
<li><a href="healthz">/healthz</a>: 200 while the process runs</li>
<li><a href="readyz">/readyz</a>: 200 once synced with Docker, 503 while Docker is unreachable</li>
</ul>
</body>
</html>
`;

const ROUTES = new Set(["/", "/metrics", "/healthz", "/readyz"]);

/** Builds the request handler. */
export function createHandler(options: HandlerOptions): (request: Request) => Promise<Response> {
  return (request) => Promise.resolve(handle(request, options));
}

function handle(request: Request, options: HandlerOptions): Response {
  const { pathname } = new URL(request.url);
  if (!ROUTES.has(pathname)) return plain(404, "Not found. Metrics are at /metrics.\n", request);
  if (request.method !== "GET" && request.method !== "HEAD") {
    return plain(405, "Method not allowed. Use GET or HEAD.\n", request, { Allow: "GET, HEAD" });
  }
  switch (pathname) {
    case "/metrics": {
      const format = negotiateFormat(request.headers.get("accept"));
      const scrape = options.scrape.render(format, acceptsGzip(request.headers.get("accept-encoding")));
      const headers: Record<string, string> = {
        "Content-Type": scrape.contentType,
        "Content-Length": String(scrape.length),
        "Cache-Control": "no-store",
        Vary: "Accept, Accept-Encoding",
      };
      if (scrape.gzipped) headers["Content-Encoding"] = "gzip";
      if (request.method === "HEAD") return new Response(null, { headers });
      return new Response(streamOf(scrape.chunks()), { headers });
    }
    case "/healthz":
      return plain(200, "ok\n", request);
    case "/readyz":
      return options.ready()
        ? plain(200, "ready\n", request)
        : plain(503, "not ready: Docker is not synced\n", request);
    default:
      return new Response(request.method === "HEAD" ? null : LANDING_PAGE(options.version), {
        headers: { "Content-Type": "text/html; charset=utf-8" },
      });
  }
}

/**
 * The chunks as a response body, each made when the connection takes the one before (see `ScrapeBody.chunks`) and
 * sent as it is: the cache's own arrays, which the scrapes of a revision share. The explicit Content-Length keeps
 * the response unchunked. A body given as one array would cost a copy per scrape (`new Response()` copies it), and
 * a fresh large array per scrape makes V8 step its garbage collector on every scrape, which costs more than
 * streaming the same bytes (see bench/RESULTS.md).
 */
function streamOf(chunks: Iterable<Uint8Array>): ReadableStream<Uint8Array> {
  const iterator = chunks[Symbol.iterator]();
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = iterator.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel() {
      iterator.return?.();
    },
  });
}

function plain(status: number, text: string, request: Request, extra: Record<string, string> = {}): Response {
  return new Response(request.method === "HEAD" ? null : text, {
    status,
    headers: { "Content-Type": "text/plain; charset=utf-8", ...extra },
  });
}
