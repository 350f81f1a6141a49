/**
 * Hostile HTTP input against the exporter process (the start task's permissions, 127.0.0.1 only): slowloris
 * connections, a 1 MB header, garbage request lines, request smuggling, 1,000 concurrent and 1,000 idle
 * connections, clients that vanish mid-response, HEAD, and odd `Accept` and `Accept-Encoding` values. During and
 * after each, a normal scrape must succeed with correct content. Everything is bounded and stops by itself.
 *
 * The engine is the scripted fake engine with a fixed set of containers, so "correct" is exact.
 * Set DOCKER_EXPORTER_TEST_REPORT=1 to print how long the normal scrapes took (no timing is asserted).
 */
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { type BenchExporter, startBenchExporter } from "../../bench/support.ts";
import { runCommand, waitFor } from "../support/docker.ts";
import { findSamples, parseSamples, sampleValue } from "../support/exporter.ts";
import { fakeContainer, FakeEngine } from "../support/fake_engine.ts";

const REPORT = Deno.env.get("DOCKER_EXPORTER_TEST_REPORT") === "1";
const CONTAINERS = 20;
const IDS = Array.from({ length: CONTAINERS }, (_, i) => i.toString(16).padStart(2, "0").repeat(32)).sort();
const TEXT = "text/plain; version=0.0.4; charset=utf-8";
const OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One HTTP exchange over a raw TCP connection, for what fetch will not send. */
interface RawExchange {
  /** The status line, e.g. `HTTP/1.1 400 Bad Request`; "" when the server sent nothing. */
  statusLine: string;
  headers: Headers;
  body: Uint8Array;
}

/** Bytes of a string whose characters are all below 256, one byte each (so `\xff` stays one byte). */
function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length;) offset += await conn.write(bytes.subarray(offset));
}

/**
 * Sends `request` on a fresh connection and reads until the server closes it (or `timeoutMs` passes), then
 * splits the first response. Writing may fail once the server has answered and closed: that is not an error.
 */
async function exchange(port: number, request: Uint8Array | string, timeoutMs = 5000): Promise<RawExchange> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), timeoutMs);
  const chunks: Uint8Array[] = [];
  const reading = (async () => {
    const buffer = new Uint8Array(65536);
    try {
      for (let n; (n = await conn.read(buffer)) !== null;) chunks.push(buffer.slice(0, n));
    } catch { /* reset by the server after it answered, or closed by the timer */ }
  })();
  try {
    await writeAll(conn, typeof request === "string" ? latin1(request) : request);
  } catch { /* the server answered and closed before reading it all */ }
  await reading;
  clearTimeout(timer);
  try {
    conn.close();
  } catch { /* closed by the timer */ }
  const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  const split = bytes.findIndex((_, i) =>
    bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10
  );
  if (split < 0) return { statusLine: decoder.decode(bytes), headers: new Headers(), body: new Uint8Array() };
  const [statusLine, ...lines] = decoder.decode(bytes.subarray(0, split)).split("\r\n");
  const headers = new Headers();
  for (const line of lines) headers.append(line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1).trim());
  return { statusLine, headers, body: bytes.subarray(split + 4) };
}

/** What a normal scrape took, by the step it followed or ran during. */
const scrapeTimes: [string, number][] = [];

/**
 * A normal scrape, as Prometheus sends it: must answer 200 with the text format, the engine up, and exactly
 * the fake engine's containers, each running.
 */
async function assertNormalScrape(exporter: BenchExporter, when: string): Promise<void> {
  const started = performance.now();
  const response = await fetch(`${exporter.url}/metrics`, {
    headers: { Accept: "text/plain;version=0.0.4;q=0.5,*/*;q=0.1", "Accept-Encoding": "gzip" },
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  scrapeTimes.push([when, performance.now() - started]);
  assert.equal(response.status, 200, `${when}: /metrics answered ${response.status}`);
  assert.equal(response.headers.get("content-type"), TEXT, when);
  assertCorrect(text, when);
}

/** The scrape has the engine up and exactly the fake engine's containers, each running. */
function assertCorrect(text: string, when: string): void {
  const samples = parseSamples(text);
  assert.equal(sampleValue(samples, "docker_up"), 1, when);
  assert.deepEqual(findSamples(samples, "docker_container_info").map((s) => s.labels.id).sort(), IDS, when);
  assert.deepEqual(
    findSamples(samples, "docker_container_state", { state: "running" }).map((s) => s.value),
    Array(CONTAINERS).fill(1),
    when,
  );
}

/**
 * How many file descriptors the exporter has open, listed by `ls`: Deno lets only --allow-all read another
 * process's /proc, and the test task does not grant it.
 */
async function openFds(exporter: BenchExporter): Promise<number> {
  return (await runCommand("ls", ["-1", `/proc/${exporter.pid}/fd`])).split("\n").length;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `docker_exporter_http_refusals_total` by reason, from a scrape. */
async function refusals(exporter: BenchExporter): Promise<Record<string, number>> {
  const samples = parseSamples(await exporter.scrape());
  return Object.fromEntries(
    findSamples(samples, "docker_exporter_http_refusals_total").map((s) => [s.labels.reason, s.value]),
  );
}

Deno.test("the exporter answers hostile HTTP input correctly, and a normal scrape succeeds during and after each", async (t) => {
  const engine = await FakeEngine.start();
  for (const [i, id] of IDS.entries()) engine.add(fakeContainer(id, `hostile-${i}`));
  await using exporter = await startBenchExporter({
    socket: engine.path,
    env: { EXPORTER_REFRESH_INTERVAL: "1m", EXPORTER_STALE_AFTER: "2m" },
    readyTimeoutMs: 20_000,
  });
  try {
    await waitFor(
      async () => {
        try {
          assertCorrect(await exporter.scrape(), "start");
          return true;
        } catch {
          return false;
        }
      },
      10_000,
      "the first sync",
    );
    await assertNormalScrape(exporter, "baseline");
    const baselineFds = await openFds(exporter);

    await t.step("HEAD gets the headers of GET, with no body", async () => {
      const get = await exchange(exporter.port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      const head = await exchange(exporter.port, "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      assert.equal(head.statusLine, "HTTP/1.1 200 OK");
      assert.equal(head.headers.get("content-type"), TEXT);
      // Live values (process memory, CPU, resource use) may change the length a little between the two requests.
      const length = Number(head.headers.get("content-length"));
      assert.ok(
        Math.abs(length - get.body.length) < get.body.length * 0.05,
        `HEAD announces ${length} bytes, GET sent ${get.body.length}`,
      );
      assert.equal(head.body.length, 0);
      for (
        const [path, status] of [["/", "200 OK"], ["/healthz", "200 OK"], ["/readyz", "200 OK"], [
          "/nope",
          "404 Not Found",
        ]]
      ) {
        const response = await exchange(exporter.port, `HEAD ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
        assert.equal(response.statusLine, `HTTP/1.1 ${status}`, path);
        assert.equal(response.body.length, 0, path);
      }
      await assertNormalScrape(exporter, "after HEAD");
    });

    await t.step("odd Accept values get the text format unless OpenMetrics is preferred", async () => {
      const cases: [string | undefined, string][] = [
        [undefined, TEXT],
        ["", TEXT],
        ["application/openmetrics-text", OPENMETRICS],
        ["APPLICATION/OPENMETRICS-TEXT; VERSION=1.0.0", OPENMETRICS],
        ["application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.9", TEXT],
        ["application/openmetrics-text;q=0.9,text/plain;q=0.5", OPENMETRICS],
        ["*/*;q=0", TEXT],
        ["text/plain;q=0, application/openmetrics-text;q=0", TEXT],
        ["application/openmetrics-text;q=abc", TEXT],
        ["application/openmetrics-text;q=-1", TEXT],
        ["application/openmetrics-text;q=1e9", OPENMETRICS],
        ["application/json", TEXT],
        [",,,;;;===,q=,;q", TEXT],
        [Array.from({ length: 2000 }, (_, i) => `type/sub${i};q=0.${i % 10}`).join(","), TEXT],
        ["\xff\xfe\xfd", TEXT],
      ];
      for (const [accept, contentType] of cases) {
        const header = accept === undefined ? "" : `Accept: ${accept}\r\n`;
        const response = await exchange(
          exporter.port,
          `GET /metrics HTTP/1.1\r\nHost: x\r\n${header}Accept-Encoding: identity\r\nConnection: close\r\n\r\n`,
        );
        const what = `Accept: ${JSON.stringify(accept)?.slice(0, 60)}`;
        assert.equal(response.statusLine, "HTTP/1.1 200 OK", what);
        assert.equal(response.headers.get("content-type"), contentType, what);
        const text = decoder.decode(response.body);
        assertCorrect(text, what);
        assert.equal(text.endsWith("# EOF\n"), contentType === OPENMETRICS, what);
      }
      await assertNormalScrape(exporter, "after odd Accept");
    });

    await t.step("odd Accept-Encoding values get gzip exactly when gzip is acceptable", async () => {
      const cases: [string | undefined, boolean][] = [
        [undefined, false],
        ["", false],
        ["identity", false],
        ["gzip", true],
        ["GZIP", true],
        ["x-gzip", true],
        ["gzip;q=0.001", true],
        ["gzip;q=0", false],
        ["gzip;q=nan", false],
        ["*", true],
        ["*;q=0", false],
        ["gzip;q=0, *", false],
        ["br", false],
        ["deflate, br, zstd", false],
        ["identity;q=0", false],
        ["\xff", false],
      ];
      for (const [acceptEncoding, gzip] of cases) {
        const header = acceptEncoding === undefined ? "" : `Accept-Encoding: ${acceptEncoding}\r\n`;
        const response = await exchange(
          exporter.port,
          `GET /metrics HTTP/1.1\r\nHost: x\r\n${header}Connection: close\r\n\r\n`,
        );
        const what = `Accept-Encoding: ${JSON.stringify(acceptEncoding)}`;
        assert.equal(response.statusLine, "HTTP/1.1 200 OK", what);
        assert.equal(response.headers.get("content-encoding"), gzip ? "gzip" : null, what);
        assert.equal(Number(response.headers.get("content-length")), response.body.length, what);
        assertCorrect(decoder.decode(gzip ? gunzipSync(response.body) : response.body), what);
      }
      await assertNormalScrape(exporter, "after odd Accept-Encoding");
    });

    await t.step("garbage request lines, malformed headers and smuggling attempts get 400", async () => {
      const cases = [
        "\x00\x01\x02 garbage \xff\r\n\r\n",
        "HELLO WORLD\r\n\r\n",
        "GET\r\n\r\n",
        "GET /metrics\r\n\r\n",
        "GET / HTTP/9.9\r\nHost: x\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nHost: x\r\nNot a header line\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Nul: a\x00b\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /x HTTP/1.1\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
      ];
      for (const request of cases) {
        const response = await exchange(exporter.port, request);
        assert.equal(response.statusLine, "HTTP/1.1 400 Bad Request", JSON.stringify(request));
        assert.equal(response.headers.get("connection"), "close", JSON.stringify(request));
      }
      await assertNormalScrape(exporter, "after garbage");
    });

    await t.step("a 1 MB header, 1,000 header lines and a 1 MB URL get 400; a 1 MB body gets 405", async () => {
      const mb = "a".repeat(1 << 20);
      for (
        const [what, request, status] of [
          ["1 MB header", `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${mb}\r\n\r\n`, "400 Bad Request"],
          [
            "1,000 headers",
            `GET /metrics HTTP/1.1\r\nHost: x\r\n${
              Array.from({ length: 1000 }, (_, i) => `X-${i}: v\r\n`).join("")
            }\r\n`,
            "400 Bad Request",
          ],
          ["1 MB URL", `GET /metrics?${mb} HTTP/1.1\r\nHost: x\r\n\r\n`, "400 Bad Request"],
          [
            "1 MB body",
            `POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: ${mb.length}\r\nConnection: close\r\n\r\n${mb}`,
            "405 Method Not Allowed",
          ],
        ]
      ) {
        const response = await exchange(exporter.port, request);
        assert.equal(response.statusLine, `HTTP/1.1 ${status}`, what);
      }
      await assertNormalScrape(exporter, "after 1 MB inputs");
    });

    await t.step("200 pipelined requests on one connection are answered in order", async () => {
      const paths = Array.from({ length: 200 }, (_, i) => ["/healthz", "/readyz", "/nope", "/metrics"][i % 4]);
      const request = paths.map((p, i) =>
        `${i % 4 === 3 ? "HEAD" : "GET"} ${p} HTTP/1.1\r\nHost: x\r\n${
          i === paths.length - 1 ? "Connection: close\r\n" : ""
        }\r\n`
      ).join("");
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: exporter.port });
      await writeAll(conn, encoder.encode(request));
      let text = "";
      const buffer = new Uint8Array(65536);
      for (let n; (n = await conn.read(buffer)) !== null;) text += decoder.decode(buffer.subarray(0, n));
      conn.close();
      const statuses = [...text.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));
      assert.deepEqual(statuses, paths.map((p) => (p === "/nope" ? 404 : 200)));
      await assertNormalScrape(exporter, "after pipelining");
    });

    await t.step(
      "slowloris: 200 connections trickling a header never block normal scrapes, and are cut off",
      async () => {
        const refusedBefore = await refusals(exporter);
        const conns = await Promise.all(
          Array.from({ length: 200 }, () => Deno.connect({ hostname: "127.0.0.1", port: exporter.port })),
        );
        let trickling = true;
        const trickle = Promise.all(conns.map(async (conn, i) => {
          try {
            await writeAll(conn, encoder.encode(`GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow-${i}: `));
            while (trickling) {
              await conn.write(encoder.encode("a"));
              await sleep(300);
            }
          } catch { /* cut off by the server, or closed below */ }
        }));
        try {
          for (let i = 0; i < 5; i++) {
            await sleep(400);
            await assertNormalScrape(exporter, "during slowloris");
          }
          // The server cuts each one off, however long its client goes on trickling: the head timeout (5 s) for
          // those it holds, at once for those over the connection cap.
          await waitFor(
            async () => (await openFds(exporter)) <= baselineFds + 2,
            15_000,
            "the server to close the slow connections while their clients still trickle",
          );
        } finally {
          trickling = false;
          for (const conn of conns) {
            try {
              conn.close();
            } catch { /* closed already */ }
          }
          await trickle;
        }
        const refused = await refusals(exporter);
        const cutOff = ["header_timeout", "evicted", "connection_limit"]
          .reduce((sum, reason) => sum + refused[reason] - refusedBefore[reason], 0);
        assert.ok(
          cutOff >= 200,
          `${cutOff} slow connections counted as turned away, of 200: ${JSON.stringify(refused)}`,
        );
        assert.ok(refused.header_timeout - refusedBefore.header_timeout > 0, JSON.stringify(refused));
        await assertNormalScrape(exporter, "after slowloris");
      },
    );

    await t.step(
      "1,000 concurrent connections each get a whole, correct scrape or are turned away at once",
      async () => {
        const refusedBefore = await refusals(exporter);
        const started = performance.now();
        const results = await Promise.all(Array.from({ length: 1000 }, () =>
          exchange(
            exporter.port,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n",
            60_000,
          )));
        const elapsed = performance.now() - started;
        // At most EXPORTER_MAX_CONNECTIONS (128) are open at once: a connection over the cap takes the place of one
        // still waiting for its request (closed without an answer), or gets a 503 when all are being answered.
        const answered = results.filter((result) => result.statusLine === "HTTP/1.1 200 OK");
        const refusedAtOnce = results.filter((result) => result.statusLine === "HTTP/1.1 503 Service Unavailable");
        const closed = results.filter((result) => result.statusLine === "");
        assert.equal(answered.length + refusedAtOnce.length + closed.length, 1000, "an answer that is neither");
        for (const result of answered) {
          assert.equal(Number(result.headers.get("content-length")), result.body.length);
          assertCorrect(decoder.decode(result.body), "one of 1,000");
        }
        assert.ok(answered.length >= 128, `only ${answered.length} of 1,000 got an answer`);
        const refused = await refusals(exporter);
        assert.equal(refused.connection_limit - refusedBefore.connection_limit, refusedAtOnce.length);
        // Give or take the connections fetch kept alive from the scrapes before, which wait as idle as any.
        const evicted = refused.evicted - refusedBefore.evicted;
        assert.ok(
          evicted >= closed.length && evicted <= closed.length + 4,
          `${evicted} evicted, ${closed.length} closed`,
        );
        scrapeTimes.push(["1,000 concurrent scrapes, all of them", elapsed]);
        await assertNormalScrape(exporter, "after 1,000 connections");
      },
    );

    await t.step("1,000 idle connections held open never block normal scrapes", async () => {
      const conns = await Promise.all(
        Array.from({ length: 1000 }, () => Deno.connect({ hostname: "127.0.0.1", port: exporter.port })),
      );
      try {
        for (let i = 0; i < 3; i++) await assertNormalScrape(exporter, "during 1,000 idle connections");
      } finally {
        for (const conn of conns) conn.close();
      }
      await waitFor(
        async () => (await openFds(exporter)) <= baselineFds + 2,
        10_000,
        "the idle connections' fds to be closed",
      );
      await assertNormalScrape(exporter, "after 1,000 idle connections");
    });

    await t.step("clients that hang up mid-response leave the server serving", async () => {
      await Promise.all(Array.from({ length: 100 }, async () => {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: exporter.port });
        await writeAll(conn, encoder.encode("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: identity\r\n\r\n"));
        await conn.read(new Uint8Array(10));
        conn.close();
      }));
      await assertNormalScrape(exporter, "after hang-ups");
    });

    // The process is still the one we started, and nothing reached the handler's error path.
    assert.equal(
      await Promise.race([exporter.child.status.then(() => "exited"), sleep(10).then(() => "running")]),
      "running",
    );
    assert.ok(!exporter.stderr.includes('"request failed"'), exporter.stderr);
    if (REPORT) {
      for (const [when, ms] of scrapeTimes) console.log(`${ms.toFixed(1).padStart(8)} ms  ${when}`);
    }
  } finally {
    engine.stop();
  }
});
