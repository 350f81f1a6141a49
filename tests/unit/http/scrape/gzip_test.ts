import assert from "node:assert/strict";
import { constants, crc32, deflateRawSync, gunzipSync } from "node:zlib";
import { crc32Combine, GZIP_HEADER, gzipTail } from "../../../../lib/http/scrape/gzip.ts";
import { concatBytes } from "../../../../lib/shared/bytes.ts";

/** Bytes that do not repeat, so no CRC comes out right by accident. */
function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let at = 0; at < length; at += 65_536) crypto.getRandomValues(bytes.subarray(at, at + 65_536));
  return bytes;
}

Deno.test("crc32Combine gives the CRC-32 of two texts joined, from the CRC and length of each", () => {
  for (const [a, b] of [[0, 0], [0, 5], [5, 0], [1, 1], [3, 7], [1000, 65_536], [70_000, 1_234_567]]) {
    const first = randomBytes(a);
    const second = randomBytes(b);
    const expected = crc32(concatBytes([first, second])) >>> 0;
    assert.equal(crc32Combine(crc32(first), crc32(second), b), expected, `${a} + ${b} bytes`);
  }
});

Deno.test("crc32Combine folds over many parts, as a body of many families is joined", () => {
  const parts = [12, 0, 4_096, 1, 300_000, 77].map(randomBytes);
  let crc = 0;
  for (const part of parts) crc = crc32Combine(crc, crc32(part), part.length);
  assert.equal(crc, crc32(concatBytes(parts)) >>> 0);
});

Deno.test("gzipTail ends a member of separately deflated parts so that gunzip reads the whole text", () => {
  const encoder = new TextEncoder();
  const parts = ["a 1\n".repeat(10_000), "", "b 2\n"].map((text) => encoder.encode(text));
  const deflated = parts.map((part) => deflateRawSync(part, { finishFlush: constants.Z_SYNC_FLUSH }));
  let crc = 0;
  let length = 0;
  for (const part of parts) {
    crc = crc32Combine(crc, crc32(part), part.length);
    length += part.length;
  }
  for (const tailLength of [0, 10, 65_535, 65_536, 200_000]) {
    const tail = randomBytes(tailLength);
    const member = concatBytes([GZIP_HEADER, ...deflated, gzipTail(tail, crc, length)]);
    // gunzipSync checks the trailer's CRC-32 and length.
    assert.deepEqual(new Uint8Array(gunzipSync(member)), concatBytes([...parts, tail]), `tail of ${tailLength} bytes`);
  }
});
