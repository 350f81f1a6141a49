/**
 * The HTTP server (lib/http/server.ts) in this process, on 127.0.0.1, with its limits shortened so that timeouts,
 * the connection cap and eviction can be watched in a few hundred milliseconds. The exporter process under the
 * real limits is in connection_limits_test.ts and hostile_http_test.ts.
 */
import assert from "node:assert/strict";
import { ExporterStats } from "../../../lib/engine/stats.ts";
import { type HttpServer, serveHttp, type ServerLimits } from "../../../lib/http/server.ts";
import { silentLogger } from "../../../lib/shared/logger.ts";
import { waitFor } from "../../support/docker.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const SHORT: Partial<ServerLimits> = { headerTimeoutMs: 300, idleTimeoutMs: 300, writeTimeoutMs: 300 };

interface Harness {
  server: HttpServer;
  stats: ExporterStats;
  controller: AbortController;
  [Symbol.asyncDispose](): Promise<void>;
}

function start(
  handler: (request: Request) => Promise<Response>,
  options: { maxConnections?: number; limits?: Partial<ServerLimits> } = {},
): Harness {
  const stats = new ExporterStats();
  const controller = new AbortController();
  const server = serveHttp({
    hostname: "127.0.0.1",
    port: 0,
    handler,
    signal: controller.signal,
    logger: silentLogger,
    stats,
    maxConnections: options.maxConnections ?? 8,
    limits: { ...SHORT, ...options.limits },
  });
  return {
    server,
    stats,
    controller,
    async [Symbol.asyncDispose]() {
      controller.abort();
      await server.finished;
    },
  };
}

const ok = () => Promise.resolve(new Response("ok\n"));

function connect(harness: Harness): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port: harness.server.address.port });
}

/** Everything the server sends until it closes the connection (or `timeoutMs` passes), as text. */
async function readToEnd(conn: Deno.Conn, timeoutMs = 5000): Promise<string> {
  const timer = setTimeout(() => conn.close(), timeoutMs);
  let text = "";
  const buffer = new Uint8Array(65536);
  try {
    for (let n; (n = await conn.read(buffer)) !== null;) text += decoder.decode(buffer.subarray(0, n));
  } catch { /* reset by the server, or closed by the timer */ }
  clearTimeout(timer);
  try {
    conn.close();
  } catch { /* closed already */ }
  return text;
}

/** Whether the server has closed `conn`: a read ends (or fails) within `withinMs`. */
async function closedByServer(conn: Deno.Conn, withinMs: number): Promise<boolean> {
  const buffer = new Uint8Array(1024);
  const read = conn.read(buffer).then((n) => n === null, () => true);
  const outcome = await Promise.race([read, sleep(withinMs).then(() => "open" as const)]);
  return outcome === true;
}

/** One GET on `conn`, kept alive; resolves to the status line once the whole answer (Content-Length) is read. */
async function get(conn: Deno.Conn, path = "/"): Promise<string> {
  await conn.write(encoder.encode(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`));
  let text = "";
  const buffer = new Uint8Array(65536);
  while (true) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error(`closed after ${JSON.stringify(text)}`);
    text += decoder.decode(buffer.subarray(0, n));
    const end = text.indexOf("\r\n\r\n");
    const length = Number(/content-length: (\d+)/i.exec(text)?.[1]);
    if (end >= 0 && text.length >= end + 4 + length) return text.slice(0, text.indexOf("\r\n"));
  }
}

Deno.test("a connection that sends no request is closed after the header timeout and counted", async () => {
  await using harness = start(ok);
  const conn = await connect(harness);
  assert.equal(await closedByServer(conn, 3000), true);
  conn.close();
  assert.equal(harness.stats.httpRefusals.get("header_timeout"), 1);
  await waitFor(() => harness.server.connections === 0, 2000, "the connection to be forgotten");
});

Deno.test("half a request head gets 408 after the header timeout, however slowly it trickles", async () => {
  await using harness = start(ok);
  const conn = await connect(harness);
  let trickling = true;
  const trickle = (async () => {
    try {
      await conn.write(encoder.encode("GET / HTTP/1.1\r\nX-Slow: "));
      while (trickling) {
        await conn.write(encoder.encode("a"));
        await sleep(50);
      }
    } catch { /* closed by the server */ }
  })();
  const answer = await readToEnd(conn, 3000);
  trickling = false;
  await trickle;
  assert.match(answer, /^HTTP\/1\.1 408 Request Timeout\r\n/);
  assert.match(answer, /\r\nconnection: close\r\n/);
  assert.equal(harness.stats.httpRefusals.get("header_timeout"), 1);
});

Deno.test("a kept-alive connection serves requests in turn, and idle past the idle timeout is closed uncounted", async () => {
  await using harness = start(ok);
  const conn = await connect(harness);
  for (let i = 0; i < 3; i++) {
    assert.equal(await get(conn), "HTTP/1.1 200 OK");
    await sleep(150); // Less than the idle timeout between requests: the connection stays.
  }
  assert.equal(await closedByServer(conn, 3000), true);
  conn.close();
  assert.deepEqual([...harness.stats.httpRefusals.values()].reduce((a, b) => a + b), 0);
});

Deno.test("at the connection cap a new connection takes the place of the one that has waited longest", async () => {
  await using harness = start(ok, { maxConnections: 3, limits: { headerTimeoutMs: 10_000, idleTimeoutMs: 10_000 } });
  const idle = [];
  for (let i = 0; i < 3; i++) {
    idle.push(await connect(harness));
    await waitFor(() => harness.server.connections === i + 1, 2000, `connection ${i + 1} to be accepted`);
  }
  const newcomer = await connect(harness);
  assert.equal(await get(newcomer), "HTTP/1.1 200 OK");
  assert.equal(await closedByServer(idle[0], 1000), true, "the oldest idle connection is still open");
  assert.equal(await closedByServer(idle[1], 200), false, "a younger idle connection was closed");
  assert.equal(harness.stats.httpRefusals.get("evicted"), 1);
  assert.equal(harness.server.connections, 3);
  for (const conn of [...idle, newcomer]) conn.close();
});

Deno.test("at the connection cap a connection that was served outlasts strangers that waited less long", async () => {
  await using harness = start(ok, { maxConnections: 3, limits: { headerTimeoutMs: 10_000, idleTimeoutMs: 10_000 } });
  const served = await connect(harness);
  assert.equal(await get(served), "HTTP/1.1 200 OK");
  const strangers = [];
  for (let i = 0; i < 2; i++) {
    strangers.push(await connect(harness));
    await waitFor(() => harness.server.connections === i + 2, 2000, `stranger ${i + 1} to be accepted`);
  }
  // Two newcomers: each takes a stranger's place, though the served connection has waited longest of all.
  const newcomers = [];
  for (let i = 0; i < 2; i++) {
    newcomers.push(await connect(harness));
    await waitFor(() => harness.stats.httpRefusals.get("evicted") === i + 1, 2000, `eviction ${i + 1}`);
  }
  for (const stranger of strangers) assert.equal(await closedByServer(stranger, 1000), true, "a stranger stayed");
  assert.equal(await get(served), "HTTP/1.1 200 OK", "the served connection was closed");
  // With only newcomers that were never answered left beside it, the served one is still evicted last, not never.
  const last = await connect(harness);
  await waitFor(() => harness.stats.httpRefusals.get("evicted") === 3, 2000, "a third eviction");
  assert.equal(await closedByServer(newcomers[0], 1000), true, "the longest-waiting stranger stayed");
  assert.equal(await get(served), "HTTP/1.1 200 OK");
  for (const conn of [served, ...newcomers, last]) conn.close();
});

Deno.test("a connection answered with an error (401, 404) is a stranger still, and goes first", async () => {
  await using harness = start(
    (request) =>
      Promise.resolve(
        new URL(request.url).pathname === "/" ? new Response("ok\n") : new Response("no\n", { status: 401 }),
      ),
    { maxConnections: 2, limits: { headerTimeoutMs: 10_000, idleTimeoutMs: 10_000 } },
  );
  const served = await connect(harness);
  assert.equal(await get(served), "HTTP/1.1 200 OK");
  const refused = await connect(harness);
  assert.equal(await get(refused, "/metrics"), "HTTP/1.1 401 Unauthorized");
  const newcomer = await connect(harness);
  await waitFor(() => harness.stats.httpRefusals.get("evicted") === 1, 2000, "an eviction");
  assert.equal(await closedByServer(refused, 1000), true, "the connection answered 401 stayed");
  assert.equal(await get(served), "HTTP/1.1 200 OK");
  for (const conn of [served, refused, newcomer]) conn.close();
});

Deno.test("at the connection cap with every connection being answered, a new one gets 503 at once", async () => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  await using harness = start(async () => {
    await released;
    return new Response("slow\n");
  }, { maxConnections: 2, limits: { headerTimeoutMs: 10_000 } });
  const busy = await Promise.all([connect(harness), connect(harness)]);
  const answers = busy.map((conn) => get(conn));
  await waitFor(() => harness.server.connections === 2, 2000, "both connections to be answered");
  await sleep(50);
  const refused = await connect(harness);
  const answer = await readToEnd(refused, 2000);
  assert.match(answer, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
  assert.match(answer, /\r\nretry-after: 1\r\n/);
  assert.equal(harness.stats.httpRefusals.get("connection_limit"), 1);
  release();
  assert.deepEqual(await Promise.all(answers), ["HTTP/1.1 200 OK", "HTTP/1.1 200 OK"]);
  for (const conn of busy) conn.close();
});

Deno.test("a client that stops reading a large answer is cut off after the write timeout; others are served", async () => {
  const big = new Uint8Array(64 * 1024 * 1024);
  await using harness = start((request) =>
    Promise.resolve(
      new URL(request.url).pathname === "/big"
        ? new Response(big, { headers: { "Content-Length": String(big.length) } })
        : new Response("ok\n"),
    )
  );
  const stalled = await connect(harness);
  await stalled.write(encoder.encode("GET /big HTTP/1.1\r\nHost: x\r\n\r\n"));
  // Never read: the socket buffers fill and the server's writes stop making progress.
  await waitFor(() => harness.stats.httpRefusals.get("write_timeout") === 1, 5000, "the write timeout");
  const other = await connect(harness);
  assert.equal(await get(other), "HTTP/1.1 200 OK");
  other.close();
  stalled.close();
  await waitFor(() => harness.server.connections === 0, 2000, "both connections to be forgotten");
});

Deno.test("a request with a body on GET, or a bad head, gets 400 and a closed connection, counted", async () => {
  await using harness = start(ok);
  for (
    const request of [
      "GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
      "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "GET / HTTP/1.1\r\nX-Bad: \x01\r\n\r\n",
    ]
  ) {
    const conn = await connect(harness);
    await conn.write(Uint8Array.from(request, (c) => c.charCodeAt(0)));
    const answer = await readToEnd(conn);
    assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/, JSON.stringify(request));
  }
  assert.equal(harness.stats.httpRefusals.get("bad_request"), 3);
});

Deno.test("another method gets the handler's answer and a closed connection, its body unread", async () => {
  await using harness = start((request) =>
    Promise.resolve(new Response(`${request.method}\n`, { status: request.method === "GET" ? 200 : 405 }))
  );
  const conn = await connect(harness);
  await conn.write(encoder.encode("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"));
  const answer = await readToEnd(conn);
  assert.match(answer, /^HTTP\/1\.1 405 Method Not Allowed\r\n/);
  assert.match(answer, /\r\nconnection: close\r\n/);
  assert.ok(answer.endsWith("POST\n"));
});

Deno.test("a handler that throws gets a 500 and the connection goes on", async () => {
  await using harness = start((request) => {
    if (new URL(request.url).pathname === "/boom") throw new Error("boom");
    return ok();
  });
  const conn = await connect(harness);
  assert.equal(await get(conn, "/boom"), "HTTP/1.1 500 Internal Server Error");
  assert.equal(await get(conn, "/"), "HTTP/1.1 200 OK");
  conn.close();
});

Deno.test("stopping closes waiting connections at once and lets an answer under way finish", async () => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const harness = start(async (request) => {
    if (new URL(request.url).pathname === "/slow") await released;
    return new Response("done\n");
  }, { limits: { headerTimeoutMs: 10_000, idleTimeoutMs: 10_000 } });
  const waiting = await connect(harness);
  const answering = await connect(harness);
  const answer = get(answering, "/slow");
  await waitFor(() => harness.server.connections === 2, 2000, "both connections");
  await sleep(50);
  harness.controller.abort();
  assert.equal(await closedByServer(waiting, 1000), true);
  release();
  assert.equal(await answer, "HTTP/1.1 200 OK");
  await harness.server.finished;
  assert.equal(harness.server.connections, 0);
  waiting.close();
  answering.close();
});

/** Sends `request` (Latin-1) on a fresh connection and reads until the server closes it. */
async function exchangeRaw(harness: Harness, request: string, timeoutMs = 3000): Promise<string> {
  const conn = await connect(harness);
  await conn.write(Uint8Array.from(request, (c) => c.charCodeAt(0)));
  return await readToEnd(conn, timeoutMs);
}

Deno.test("a method in lower case is not the method in upper case: 405, framed as a whole answer", async () => {
  await using harness = start((request) => Promise.resolve(new Response(`${request.method}\n`)));
  for (const method of ["get", "head", "Get"]) {
    const answer = await exchangeRaw(harness, `${method} / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.match(answer, /^HTTP\/1\.1 405 Method Not Allowed\r\n/, method);
    const length = Number(/content-length: (\d+)/.exec(answer)?.[1]);
    assert.equal(answer.length - answer.indexOf("\r\n\r\n") - 4, length, method);
  }
});

Deno.test("a handler's body longer than its Content-Length is cut there, and the connection closed", async () => {
  await using harness = start(() =>
    Promise.resolve(new Response("hello HTTP/1.1 200 OK\r\n\r\nsmuggled", { headers: { "Content-Length": "5" } }))
  );
  const answer = await exchangeRaw(harness, "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
  assert.ok(answer.endsWith("\r\n\r\nhello"), JSON.stringify(answer));
  assert.equal(answer.split("HTTP/1.1 200").length - 1, 1, "a second answer on the same connection");
});

Deno.test("a target that starts with two slashes or a backslash is a path, never a host", async () => {
  await using harness = start((request) => Promise.resolve(new Response(`${new URL(request.url).pathname}\n`)));
  for (const target of ["//evil/metrics", "/\\evil/metrics"]) {
    const answer = await exchangeRaw(harness, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.doesNotMatch(answer, /\r\n\r\n\/metrics\n$/, target);
  }
});

Deno.test("an HTTP/1.1 request without a Host, or with two, gets 400", async () => {
  await using harness = start(ok);
  for (const hosts of ["", "Host: a\r\nHost: b\r\n"]) {
    const answer = await exchangeRaw(harness, `GET / HTTP/1.1\r\n${hosts}\r\n`);
    assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/, JSON.stringify(hosts));
  }
  assert.match(await exchangeRaw(harness, "GET / HTTP/1.0\r\n\r\n"), /^HTTP\/1\.1 200 OK\r\n/);
});

Deno.test("an empty line after a request leaves the connection idle, not half a head to time out", async () => {
  await using harness = start(ok, { limits: { headerTimeoutMs: 200, idleTimeoutMs: 10_000 } });
  const conn = await connect(harness);
  await conn.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n\r\n"));
  const buffer = new Uint8Array(4096);
  await conn.read(buffer);
  // Past the header timeout the connection is still open, and serves the next request.
  await sleep(500);
  assert.equal(await get(conn), "HTTP/1.1 200 OK");
  conn.close();
  assert.equal(harness.stats.httpRefusals.get("header_timeout"), 0);
});

Deno.test("a server started with an aborted signal does not listen on", async () => {
  const controller = new AbortController();
  controller.abort();
  const server = serveHttp({
    hostname: "127.0.0.1",
    port: 0,
    handler: ok,
    signal: controller.signal,
    logger: silentLogger,
    stats: new ExporterStats(),
    maxConnections: 8,
  });
  await server.finished;
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: server.address.port }));
});
