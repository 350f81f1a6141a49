import assert from "node:assert/strict";
import { JsonStreamDecoder, type JsonStreamItem } from "../../../../lib/docker/wire/json_stream.ts";
import {
  bytewise,
  decodeChunkedJson,
  MULTIBYTE_NOTE,
  RECORDED_ACTIONS,
  recordedBody,
  splitAt,
} from "../../../support/events_recording.ts";

const encoder = new TextEncoder();

function decode(pieces: readonly (string | Uint8Array)[]): JsonStreamItem[] {
  const decoder = new JsonStreamDecoder();
  const items: JsonStreamItem[] = [];
  for (const piece of pieces) items.push(...decoder.push(typeof piece === "string" ? encoder.encode(piece) : piece));
  items.push(...decoder.end());
  return items;
}

function values(items: readonly JsonStreamItem[]): unknown[] {
  return items.map((item) => {
    assert.ok(item.ok, `unexpected garbage ${JSON.stringify(item)}`);
    return item.value;
  });
}

// deno-lint-ignore no-explicit-any
type Event = any;

Deno.test("ChunkedDecoder + JsonStreamDecoder parse every recorded event, multi-byte label intact", () => {
  const events = values(decodeChunkedJson([recordedBody()])) as Event[];
  assert.deepEqual(events.map((event) => event.Action), RECORDED_ACTIONS);
  for (const event of events) assert.equal(event.Actor.Attributes.note, MULTIBYTE_NOTE);
  for (const event of events) assert.equal(event.Actor.Attributes.quote, 'say "hi" \\ bye');
});

Deno.test("ChunkedDecoder + JsonStreamDecoder give the same events for the recording split at every byte", () => {
  const body = recordedBody();
  const whole = decodeChunkedJson([body]);
  assert.equal(whole.length, RECORDED_ACTIONS.length);
  for (let at = 0; at <= body.length; at++) {
    assert.deepEqual(decodeChunkedJson(splitAt(body, at)), whole, `split at ${at}`);
  }
});

Deno.test("ChunkedDecoder + JsonStreamDecoder give the same events when fed the recording one byte at a time", () => {
  const body = recordedBody();
  assert.deepEqual(decodeChunkedJson(bytewise(body)), decodeChunkedJson([body]));
});

Deno.test("JsonStreamDecoder keeps a multi-byte character split anywhere inside it", () => {
  const bytes = encoder.encode(`{"note":"${MULTIBYTE_NOTE}"}`);
  for (let at = 0; at <= bytes.length; at++) {
    assert.deepEqual(values(decode(splitAt(bytes, at))), [{ note: MULTIBYTE_NOTE }], `split at ${at}`);
  }
  assert.deepEqual(values(decode(bytewise(bytes))), [{ note: MULTIBYTE_NOTE }]);
});

Deno.test("JsonStreamDecoder splits objects with or without whitespace between them", () => {
  assert.deepEqual(values(decode(['{"a":1}{"b":2}\n\r\n\t {"c":3}'])), [{ a: 1 }, { b: 2 }, { c: 3 }]);
});

Deno.test("JsonStreamDecoder ignores braces, brackets and escaped quotes inside strings", () => {
  const text = '{"a":"}{\\"","b":[{"c":"]["}],"d":"\\\\"}{"e":"\\\\\\"}"}';
  assert.deepEqual(values(decode([text])), [{ a: '}{"', b: [{ c: "][" }], d: "\\" }, { e: '\\"}' }]);
  const bytes = encoder.encode(text);
  for (let at = 0; at <= bytes.length; at++) assert.deepEqual(decode(splitAt(bytes, at)), decode([text]));
});

Deno.test("JsonStreamDecoder reports garbage between objects and still parses the next object", () => {
  assert.deepEqual(decode(['{"a":1}\nnot json\n{"b":2}\n']), [
    { ok: true, value: { a: 1 } },
    { ok: false, text: "not json", error: "not JSON" },
    { ok: true, value: { b: 2 } },
  ]);
  assert.deepEqual(decode(['{"a":1}xx {"b":2}']), [
    { ok: true, value: { a: 1 } },
    { ok: false, text: "xx ", error: "not JSON" },
    { ok: true, value: { b: 2 } },
  ]);
  assert.deepEqual(decode(["[1,2]\n", '{"b":2}']), [
    { ok: false, text: "[1,2]", error: "not JSON" },
    { ok: true, value: { b: 2 } },
  ]);
});

Deno.test("JsonStreamDecoder reports a balanced object that is not valid JSON, then goes on", () => {
  const items = decode(['{"a":}\n{"b":2}']);
  assert.equal(items.length, 2);
  assert.equal(items[0].ok, false);
  assert.equal((items[0] as { text: string }).text, '{"a":}');
  assert.deepEqual(items[1], { ok: true, value: { b: 2 } });
});

Deno.test("JsonStreamDecoder reports JSON truncated at end()", () => {
  const decoder = new JsonStreamDecoder();
  assert.deepEqual(decoder.push(encoder.encode('{"a":1}\n{"b":{"c"')), [{ ok: true, value: { a: 1 } }]);
  assert.deepEqual(decoder.end(), [{ ok: false, text: '{"b":{"c"', error: "stream ended inside a JSON value" }]);
  // end() resets: the decoder is ready for a new stream.
  assert.deepEqual(decoder.push(encoder.encode('{"d":4}')), [{ ok: true, value: { d: 4 } }]);
});

Deno.test("JsonStreamDecoder reports a multi-byte character cut off by end()", () => {
  const bytes = encoder.encode('{"a":"€');
  const items = decode([bytes.subarray(0, bytes.length - 1)]);
  assert.equal(items.length, 1);
  assert.equal(items[0].ok, false);
  assert.equal((items[0] as { text: string }).text, '{"a":"\uFFFD');
});

Deno.test("JsonStreamDecoder end() returns nothing after a clean stream", () => {
  assert.deepEqual(decode(['{"a":1}\n', "  \n"]), [{ ok: true, value: { a: 1 } }]);
});

/** Feeds `text` in 64 KiB pieces; returns the items and the index of the piece each arrived with. */
function decodeInPieces(text: string): Array<{ item: JsonStreamItem; piece: number }> {
  const bytes = encoder.encode(text);
  const decoder = new JsonStreamDecoder();
  const out: Array<{ item: JsonStreamItem; piece: number }> = [];
  let piece = 0;
  for (let i = 0; i < bytes.length; i += 65536, piece++) {
    for (const item of decoder.push(bytes.subarray(i, i + 65536))) out.push({ item, piece });
  }
  for (const item of decoder.end()) out.push({ item, piece });
  return out;
}

Deno.test("JsonStreamDecoder reports an object larger than its cap while it streams, instead of buffering it", () => {
  const huge = `{"big":"${"x".repeat(3 << 20)}"}`;
  const items = decodeInPieces(`${huge}\n{"next":1}\n`);
  const first = items[0];
  assert.equal(first.item.ok, false);
  assert.equal((first.item as { error: string }).error, "value too large");
  assert.ok((first.item as { text: string }).text.length <= 201, "the report carries a prefix, not the object");
  // Reported once a little over 1 MiB has been buffered, long before the 3 MiB object ends.
  assert.ok(first.piece <= 17, `reported only with piece ${first.piece}`);
  assert.deepEqual(items.filter(({ item }) => item.ok).map(({ item }) => (item as { value: unknown }).value), [{
    next: 1,
  }]);
  assert.deepEqual(items.at(-1)!.item, { ok: true, value: { next: 1 } });
});

// After the cap is hit the decoder forgets that it is inside an object and scans the rest of that object as if it
// stood between objects. A `{` inside one of its strings then opens a phantom object whose quotes are out of step,
// and every following event (up to another 1 MiB) is swallowed into it.
Deno.test("JsonStreamDecoder parses the next object after an oversized one whose tail has a brace in a string", () => {
  const huge = `{"Actor":{"Attributes":{"big":"${"x".repeat(2 << 20)}","pattern":"{x"}}}`;
  const following = Array.from({ length: 3 }, (_, i) => `{"Action":"start","n":${i}}`).join("\n");
  const items = decodeInPieces(`${huge}\n${following}\n`).map(({ item }) => item);
  assert.equal((items[0] as { error: string }).error, "value too large");
  assert.deepEqual(items.filter((item) => item.ok).map((item) => (item as { value: unknown }).value), [
    { Action: "start", n: 0 },
    { Action: "start", n: 1 },
    { Action: "start", n: 2 },
  ]);
});

Deno.test("JsonStreamDecoder parses an object bigger than its cap when it arrives in one piece", () => {
  const huge = { big: "y".repeat(2 << 20) };
  assert.deepEqual(values(decode([JSON.stringify(huge)])), [huge]);
});

Deno.test("JsonStreamDecoder reports a run of garbage without newline once it passes the cap", () => {
  const items = decodeInPieces("z".repeat(2 << 20)).map(({ item }) => item);
  assert.ok(items.length >= 1);
  assert.ok(items.every((item) => !item.ok));
  assert.equal((items[0] as { error: string }).error, "value too large");
});
