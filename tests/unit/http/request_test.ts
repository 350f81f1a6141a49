import assert from "node:assert/strict";
import {
  BadRequestError,
  bodyFraming,
  encodeResponseHead,
  HeadReader,
  parseRequestHead,
  type RequestHead,
} from "../../../lib/http/request.ts";

/** Bytes of a string whose characters are all below 256, one byte each. */
function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function parse(text: string, limits = { maxBytes: 1024, maxHeaders: 10 }): RequestHead | undefined {
  return parseRequestHead(latin1(text), limits);
}

function refused(text: string, limits = { maxBytes: 1024, maxHeaders: 10 }): string {
  try {
    parse(text, limits);
  } catch (error) {
    assert.ok(error instanceof BadRequestError, `expected BadRequestError, got ${error}`);
    return error.message;
  }
  assert.fail(`${JSON.stringify(text)} was accepted`);
}

const PROMETHEUS = "GET /metrics HTTP/1.1\r\nHost: 10.0.0.5:8000\r\nUser-Agent: Prometheus/3.1.0\r\n" +
  "Accept: application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4\r\n" +
  "Accept-Encoding: gzip\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n";

Deno.test("parseRequestHead() reads Prometheus's request: method, target, version, lower-cased headers, length", () => {
  const head = parse(PROMETHEUS + "GET /next");
  assert.deepEqual(head, {
    method: "GET",
    target: "/metrics",
    version: "1.1",
    headers: [
      ["host", "10.0.0.5:8000"],
      ["user-agent", "Prometheus/3.1.0"],
      ["accept", "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4"],
      ["accept-encoding", "gzip"],
      ["x-prometheus-scrape-timeout-seconds", "10"],
    ],
    length: PROMETHEUS.length,
  });
});

Deno.test("parseRequestHead() waits for the end of the head however the bytes are split", () => {
  const bytes = latin1(PROMETHEUS);
  for (let cut = 0; cut < bytes.length; cut++) {
    assert.equal(parseRequestHead(bytes.subarray(0, cut)), undefined, `cut at ${cut}`);
  }
  assert.equal(parseRequestHead(bytes)?.length, bytes.length);
});

Deno.test("parseRequestHead() skips empty lines before the request line and trims header values", () => {
  const head = parse("\r\n\r\nHEAD / HTTP/1.0\r\nX-A: \t spaced \t\r\nX-Empty:\r\n\r\n");
  assert.equal(head?.method, "HEAD");
  assert.equal(head?.version, "1.0");
  assert.deepEqual(head?.headers, [["x-a", "spaced"], ["x-empty", ""]]);
});

Deno.test("parseRequestHead() keeps bytes above 127 in header values as Latin-1 characters", () => {
  assert.deepEqual(parse("GET / HTTP/1.1\r\nX-Bytes: \xff\xfe\r\n\r\n")?.headers, [["x-bytes", "\xff\xfe"]]);
});

Deno.test("parseRequestHead() refuses malformed request lines", () => {
  assert.match(refused("HELLO\r\n\r\n"), /METHOD TARGET VERSION/);
  assert.match(refused("GET  /  HTTP/1.1\r\n\r\n"), /METHOD TARGET VERSION/);
  assert.match(refused("GET /metrics\r\n\r\n"), /METHOD TARGET VERSION/);
  assert.match(refused("G\x00T / HTTP/1.1\r\n\r\n"), /method/);
  assert.match(refused("GET /a\x7fb HTTP/1.1\r\n\r\n"), /target/);
  assert.match(refused("GET / HTTP/9.9\r\n\r\n"), /version "HTTP\/9.9"/);
  assert.match(refused("PRI * HTTP/2.0\r\n\r\n"), /version/);
});

Deno.test("parseRequestHead() refuses malformed header lines, folded lines and control characters", () => {
  assert.match(refused("GET / HTTP/1.1\r\nNot a header line\r\n\r\n"), /without a name and colon/);
  assert.match(refused("GET / HTTP/1.1\r\n: no name\r\n\r\n"), /without a name and colon/);
  assert.match(refused("GET / HTTP/1.1\r\nHost : x\r\n\r\n"), /not a token/);
  assert.match(refused("GET / HTTP/1.1\r\nX-A: a\r\n folded\r\n\r\n"), /without a name and colon/);
  assert.match(refused("GET / HTTP/1.1\r\nX-Nul: a\x00b\r\n\r\n"), /control characters in header X-Nul/);
  assert.match(refused("GET / HTTP/1.1\r\nX-Lf: a\nb\r\n\r\n"), /bare CR or LF/);
  assert.match(refused("GET / HTTP/1.1\r\nX-Cr: a\rb\r\n\r\n"), /bare CR or LF/);
});

Deno.test("parseRequestHead() refuses a head over its byte or line limit, complete or not", () => {
  const limits = { maxBytes: 64, maxHeaders: 2 };
  assert.match(refused(`GET /${"a".repeat(80)} HTTP/1.1\r\n\r\n`, limits), /larger than 64 bytes/);
  assert.match(refused(`GET / HTTP/1.1\r\nX-Long: ${"a".repeat(80)}`, limits), /larger than 64 bytes/);
  assert.match(refused("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits), /more than 2 header lines/);
  assert.equal(parse("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n", limits)?.headers.length, 2);
  // Exactly at the limit is still a head.
  const exact = `GET /${"a".repeat(64 - 18)} HTTP/1.1\r\n\r\n`;
  assert.equal(exact.length, 64);
  assert.equal(parse(exact, limits)?.length, 64);
});

function framing(...headers: [string, string][]) {
  return bodyFraming({ method: "POST", target: "/", version: "1.1", headers, length: 0 });
}

Deno.test("bodyFraming() reads Content-Length and chunked Transfer-Encoding", () => {
  assert.deepEqual(framing(), { kind: "none" });
  assert.deepEqual(framing(["content-length", "0"]), { kind: "none" });
  assert.deepEqual(framing(["content-length", "12"]), { kind: "length", bytes: 12 });
  assert.deepEqual(framing(["content-length", "12"], ["content-length", "12"]), { kind: "length", bytes: 12 });
  assert.deepEqual(framing(["transfer-encoding", "gzip, Chunked"]), { kind: "chunked" });
});

Deno.test("bodyFraming() refuses framing two parties could read differently", () => {
  const bad: [string, string][][] = [
    [["content-length", "5"], ["transfer-encoding", "chunked"]],
    [["content-length", "-1"]],
    [["content-length", "+5"]],
    [["content-length", "1, 2"]],
    [["content-length", "1"], ["content-length", "2"]],
    [["content-length", ""]],
    [["content-length", "99999999999999999999"]],
    [["transfer-encoding", "chunked, gzip"]],
  ];
  for (const headers of bad) assert.throws(() => framing(...headers), BadRequestError, JSON.stringify(headers));
});

Deno.test("encodeResponseHead() writes the status line with its reason phrase, the headers, and the empty line", () => {
  assert.equal(
    encodeResponseHead(503, [["content-length", "0"], ["connection", "close"]]),
    "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
  );
  assert.equal(encodeResponseHead(299, []), "HTTP/1.1 299 \r\n\r\n");
});

Deno.test("HeadReader gives each pipelined head in turn, however the bytes are split, and keeps what follows", () => {
  const twice = latin1(PROMETHEUS + "\r\n" + PROMETHEUS + "GET /next");
  for (const size of [1, 7, 64, twice.length]) {
    const reader = new HeadReader();
    const heads: RequestHead[] = [];
    for (let i = 0; i < twice.length; i += size) {
      reader.push(twice.subarray(i, i + size));
      for (let head; (head = reader.take());) heads.push(head);
    }
    assert.deepEqual(heads.map((head) => head.target), ["/metrics", "/metrics"], `pieces of ${size}`);
    assert.equal(reader.length, "GET /next".length, `pieces of ${size}`);
  }
});

Deno.test("HeadReader drops empty lines between requests, so that they hold nothing", () => {
  const reader = new HeadReader();
  reader.push(latin1("GET / HTTP/1.1\r\nHost: x\r\n\r\n\r\n\r\n"));
  assert.equal(reader.take()?.target, "/");
  assert.equal(reader.take(), undefined);
  assert.equal(reader.length, 0);
});

Deno.test("HeadReader refuses a bare LF, or one line too many, as soon as it arrives, before the head ends", () => {
  const bare = new HeadReader();
  bare.push(latin1("GET / HTTP/1.1\nHost: x"));
  assert.throws(() => bare.take(), /a bare LF/);
  const many = new HeadReader({ maxBytes: 1 << 20, maxHeaders: 3 });
  many.push(latin1("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n"));
  assert.equal(many.take(), undefined);
  many.push(latin1("D: 4\r\n"));
  assert.throws(() => many.take(), /more than 3 header lines/);
  const large = new HeadReader({ maxBytes: 64, maxHeaders: 100 });
  large.push(latin1(`GET / HTTP/1.1\r\nX: ${"a".repeat(80)}`));
  assert.throws(() => large.take(), /larger than 64 bytes/);
});
