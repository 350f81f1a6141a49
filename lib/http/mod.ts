/**
 * Serving `/metrics`: the HTTP/1.1 server with its connection cap and timeouts, the request-head reader, the
 * handler, and basic auth with its bcrypt worker; the scrape cache is fenced off in `http/scrape/`.
 *
 * May import `http/scrape/`, `metrics/`, `engine/` (the exporter's counters) and `shared/`.
 * @module
 */
export { withBasicAuth } from "./basic_auth.ts";
export { startBcryptWorker } from "./bcrypt_worker.ts";
export { createHandler } from "./handler.ts";
export { serveHttp } from "./server.ts";
export type { HttpServer } from "./server.ts";
