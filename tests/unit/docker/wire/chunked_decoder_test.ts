import assert from "node:assert/strict";
import { ChunkedDecoder, ChunkedEncodingError } from "../../../../lib/docker/wire/chunked_decoder.ts";
import { parseResponseHead } from "../../../../lib/docker/socket.ts";
import { DockerApiError } from "../../../../lib/docker/errors.ts";
import { concatBytes } from "../../../../lib/shared/bytes.ts";
import { bytewise, RECORDED_ACTIONS, recordedBody, RECORDING, splitAt } from "../../../support/events_recording.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function decodeAll(pieces: readonly Uint8Array[]): { payload: Uint8Array; done: boolean } {
  const chunked = new ChunkedDecoder();
  const out: Uint8Array[] = [];
  for (const piece of pieces) out.push(...chunked.push(piece));
  return { payload: concatBytes(out), done: chunked.done };
}

/** Where the head ends, found independently of parseResponseHead: after the first blank line. */
const HEAD_END = decoder.decode(RECORDING).indexOf("\r\n\r\n") + 4;

Deno.test("parseResponseHead() finds the head of the recorded /events response", () => {
  const parsed = parseResponseHead(RECORDING, "events");
  assert.ok(parsed);
  assert.equal(parsed.head.status, 200);
  assert.equal(parsed.bodyStart, HEAD_END);
  assert.equal(parsed.head.headers.get("transfer-encoding"), "chunked");
  assert.equal(parsed.head.headers.get("content-type"), "application/json");
  assert.equal(parsed.head.headers.get("api-version"), "1.41");
  assert.match(decoder.decode(RECORDING.subarray(parsed.bodyStart, parsed.bodyStart + 8)), /^[0-9a-f]+\r\n\{/);
});

Deno.test("parseResponseHead() asks for more bytes until the blank line has arrived", () => {
  for (let end = 0; end < HEAD_END; end++) {
    assert.equal(parseResponseHead(RECORDING.subarray(0, end), "events"), undefined, `prefix of ${end} bytes`);
  }
  assert.equal(parseResponseHead(RECORDING.subarray(0, HEAD_END), "events")?.bodyStart, HEAD_END);
});

Deno.test("parseResponseHead() reads an error status and lower-cases header names", () => {
  const text = "HTTP/1.0 404 Not Found\r\nX-Odd:  spaced \r\n\r\n{}";
  const parsed = parseResponseHead(encoder.encode(text), "events");
  assert.ok(parsed);
  assert.equal(parsed.head.status, 404);
  assert.equal(parsed.head.headers.get("x-odd"), "spaced");
  assert.equal(parsed.bodyStart, text.indexOf("{}"));
});

Deno.test("parseResponseHead() throws DockerApiError for something that is not HTTP", () => {
  assert.throws(() => parseResponseHead(encoder.encode("SSH-2.0-OpenSSH_9.2\r\n\r\n"), "events"), DockerApiError);
  assert.throws(() => parseResponseHead(new Uint8Array(70 * 1024).fill(65), "events"), /response head too large/);
});

Deno.test("ChunkedDecoder yields the recorded events, one JSON object per line", () => {
  const { payload } = decodeAll([recordedBody()]);
  const lines = decoder.decode(payload).split("\n");
  assert.equal(lines.pop(), "");
  assert.deepEqual(lines.map((line) => JSON.parse(line).Action), RECORDED_ACTIONS);
});

Deno.test("ChunkedDecoder gives the same payload for the recording split at every byte position", () => {
  const body = recordedBody();
  const whole = decodeAll([body]).payload;
  for (let at = 0; at <= body.length; at++) {
    assert.deepEqual(decodeAll(splitAt(body, at)).payload, whole, `split at ${at}`);
  }
  assert.deepEqual(decodeAll(bytewise(body)).payload, whole);
});

const WITH_EXTENSIONS = '5;name=value\r\nhello\r\n6 ; x="y"\r\n world\r\n0;last\r\nTrailer-One: a\r\nTwo: b\r\n\r\n';

Deno.test("ChunkedDecoder accepts chunk extensions and trailers, in any split", () => {
  const bytes = encoder.encode(WITH_EXTENSIONS);
  for (let at = 0; at <= bytes.length; at++) {
    const { payload, done } = decodeAll(splitAt(bytes, at));
    assert.equal(decoder.decode(payload), "hello world", `split at ${at}`);
    assert.equal(done, true, `split at ${at}`);
  }
  const { payload, done } = decodeAll(bytewise(bytes));
  assert.equal(decoder.decode(payload), "hello world");
  assert.equal(done, true);
});

Deno.test("ChunkedDecoder is done only after the last chunk's empty trailer line", () => {
  const chunked = new ChunkedDecoder();
  chunked.push(encoder.encode("3\r\nabc\r\n0\r\n"));
  assert.equal(chunked.done, false);
  chunked.push(encoder.encode("\r\n"));
  assert.equal(chunked.done, true);
});

Deno.test("ChunkedDecoder throws ChunkedEncodingError for a bad size line", () => {
  for (const bad of ["zz\r\n", "\r\n", "-5\r\n", "0x5\r\n", "1234567890abc\r\n", "5 5\r\n"]) {
    assert.throws(() => new ChunkedDecoder().push(encoder.encode(bad)), ChunkedEncodingError, JSON.stringify(bad));
  }
  assert.throws(
    () => new ChunkedDecoder().push(encoder.encode("zz\r\n")),
    { name: "ChunkedEncodingError", message: 'bad chunk size line "zz"' },
  );
});

Deno.test("ChunkedDecoder throws ChunkedEncodingError when chunk data is not followed by CRLF", () => {
  assert.throws(() => new ChunkedDecoder().push(encoder.encode("3\r\nabcd\r\n")), ChunkedEncodingError);
  assert.throws(() => new ChunkedDecoder().push(encoder.encode("3\r\nabc\r\r\n")), ChunkedEncodingError);
});

Deno.test("ChunkedDecoder refuses a size line without end instead of buffering it", () => {
  const chunked = new ChunkedDecoder();
  assert.throws(() => {
    for (let i = 0; i < 5; i++) chunked.push(new Uint8Array(1024).fill(0x31));
  }, { name: "ChunkedEncodingError", message: "chunk size line too long" });
});

Deno.test("ChunkedDecoder counts the bytes that came after the last chunk", () => {
  const decoder = new ChunkedDecoder();
  decoder.push(encoder.encode("3\r\nabc\r\n0\r\n"));
  assert.equal(decoder.extraBytes, 0);
  decoder.push(encoder.encode("\r\nHTTP/1.1"));
  assert.equal(decoder.done, true);
  assert.equal(decoder.extraBytes, 8, "what a connection must not be reused after");
});
