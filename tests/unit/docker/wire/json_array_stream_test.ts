import assert from "node:assert/strict";
import { JsonArrayDecoder, JsonArrayError } from "../../../../lib/docker/wire/json_array_stream.ts";

const encoder = new TextEncoder();

/** Decodes `text` fed in pieces of `size` bytes, and ends it. */
function decodeInPieces(text: string, size: number): unknown[] {
  const bytes = encoder.encode(text);
  const decoder = new JsonArrayDecoder();
  const elements: unknown[] = [];
  for (let at = 0; at < bytes.length; at += size) elements.push(...decoder.push(bytes.subarray(at, at + size)));
  decoder.end();
  return elements;
}

const LIST = [
  { Id: "a", Names: ["/web"], State: "running", Status: "Up 2 minutes (healthy)" },
  { Id: "b", Labels: { "x]": "}{", quote: 'say "hi" \\', "ünï": "cødé ✓" }, Ports: [[], [{}]] },
  {},
];

Deno.test("JsonArrayDecoder parses each element, wherever the pieces are cut, even inside a UTF-8 character", () => {
  const text = ` \n[ ${LIST.map((entry) => JSON.stringify(entry)).join(" ,\n")} ]\n`;
  for (const size of [1, 2, 3, 7, 64, text.length * 4]) assert.deepEqual(decodeInPieces(text, size), LIST, `${size}`);
});

Deno.test("JsonArrayDecoder hands back each element as soon as it is complete", () => {
  const decoder = new JsonArrayDecoder();
  assert.deepEqual(decoder.push(encoder.encode('[{"Id":"a"},{"Id":')), [{ Id: "a" }]);
  assert.deepEqual(decoder.push(encoder.encode('"b"}')), [{ Id: "b" }]);
  assert.throws(() => decoder.end(), { name: "JsonArrayError", message: "the text ended inside the array" });
  assert.deepEqual(decoder.push(encoder.encode("]")), []);
  decoder.end();
});

Deno.test("JsonArrayDecoder accepts an empty array", () => {
  assert.deepEqual(decodeInPieces("[]", 1), []);
  assert.deepEqual(decodeInPieces(" [ \n ] ", 2), []);
});

Deno.test("JsonArrayDecoder refuses what is not an array, before it opens", () => {
  for (const text of ["<html>proxy error</html>", '{"message":"not a list"}', "null", ""]) {
    const decoder = new JsonArrayDecoder();
    assert.throws(() => {
      decoder.push(encoder.encode(text));
      decoder.end();
    }, JsonArrayError);
    assert.equal(decoder.opened, false, text);
    assert.equal(decoder.sample, text);
  }
});

Deno.test("JsonArrayDecoder refuses a broken array, naming where", () => {
  const cases: [string, RegExp][] = [
    ['[{"Id":"a"} {"Id":"b"}]', /unexpected "\{" after an element/],
    ['[{"Id":"a"},]', /unexpected "]" where an object should be/],
    ["[1]", /unexpected "1" where an object or the end of the array should be/],
    ['[{"Id":"a"}] x', /unexpected "x" after the end of the array/],
    ['[{"Id":"a",}]', /an element is not JSON/],
    ['[{"Id":"a"}', /the text ended inside the array/],
  ];
  for (const [text, message] of cases) {
    const decoder = new JsonArrayDecoder();
    assert.throws(() => {
      decoder.push(encoder.encode(text));
      decoder.end();
    }, message);
    assert.equal(decoder.opened, true, text);
  }
});

Deno.test("JsonArrayDecoder refuses an element longer than its limit instead of buffering it", () => {
  const decoder = new JsonArrayDecoder(100);
  assert.deepEqual(decoder.push(encoder.encode(`[{"Id":"${"a".repeat(50)}"},{"Id":"`)), [{ Id: "a".repeat(50) }]);
  assert.throws(() => decoder.push(encoder.encode("b".repeat(100))), /an element is longer than 100 characters/);
});

Deno.test("JsonArrayDecoder refuses bytes that are not UTF-8", () => {
  const decoder = new JsonArrayDecoder();
  assert.throws(() => decoder.push(new Uint8Array([0x5b, 0xff, 0xfe])), /not UTF-8/);
});

Deno.test("JsonArrayDecoder keeps the first 80 characters as its sample", () => {
  const pieces = [`[{"Id":"${"a".repeat(60)}"},`, `{"Id":"${"b".repeat(60)}"}`];
  const decoder = new JsonArrayDecoder();
  for (const piece of pieces) decoder.push(encoder.encode(piece));
  assert.equal(decoder.sample, pieces.join("").slice(0, 80));
  assert.equal(decoder.sample.length, 80);
});

Deno.test("JsonArrayDecoder refuses a text that ends inside a UTF-8 character", () => {
  const decoder = new JsonArrayDecoder();
  decoder.push(new Uint8Array([0x5b, 0x5d, 0x20, 0xe2, 0x9c]));
  assert.throws(() => decoder.end(), /ends inside a UTF-8 character/);
});

/** A small deterministic generator (mulberry32), so that a failure can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("JsonArrayDecoder agrees with JSON.parse on 2,000 random lists fed in random pieces, whole or damaged", () => {
  const next = random(20261125);
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)];
  const pieces = ['"', "\\", "\\\\", '\\"', "{", "}", "[", "]", ",", ":", "\n", "é", "✓", "😀", "x", "plain text "];
  const text = () => Array.from({ length: Math.floor(next() * 6) }, () => pick(pieces)).join("");
  const value = (depth: number): unknown => {
    const kind = Math.floor(next() * (depth > 2 ? 3 : 5));
    if (kind === 0) return text();
    if (kind === 1) return Math.floor(next() * 1000);
    if (kind === 2) return pick([true, false, null]);
    if (kind === 3) return Array.from({ length: Math.floor(next() * 3) }, () => value(depth + 1));
    return object(depth + 1);
  };
  const object = (depth: number) =>
    Object.fromEntries(Array.from({ length: Math.floor(next() * 4) }, () => [text(), value(depth)]));
  for (let run = 0; run < 2000; run++) {
    const list = Array.from({ length: Math.floor(next() * 4) }, () => object(0));
    let bytes = encoder.encode(JSON.stringify(list, null, next() < 0.5 ? undefined : 1));
    if (next() < 0.5) {
      bytes = bytes.slice(0, Math.floor(next() * (bytes.length + 1)));
      if (bytes.length > 0 && next() < 0.5) bytes[Math.floor(next() * bytes.length)] = Math.floor(next() * 256);
    }
    let expected: unknown;
    try {
      const parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
      const objects = Array.isArray(parsed) &&
        parsed.every((entry) => typeof entry === "object" && entry !== null && !Array.isArray(entry));
      expected = objects ? parsed : "error";
    } catch {
      expected = "error";
    }
    let actual: unknown;
    try {
      const decoder = new JsonArrayDecoder();
      const elements: unknown[] = [];
      for (let at = 0; at < bytes.length;) {
        const size = 1 + Math.floor(next() * 8);
        elements.push(...decoder.push(bytes.subarray(at, at + size)));
        at += size;
      }
      decoder.end();
      actual = elements;
    } catch (error) {
      assert.ok(error instanceof JsonArrayError, `run ${run}: ${error}`);
      actual = "error";
    }
    assert.deepEqual(actual, expected, `run ${run}: ${new TextDecoder().decode(bytes)}`);
  }
});
