import assert from "node:assert/strict";
import { JsonNesting } from "../../../../lib/docker/wire/json_nesting.ts";

/** A value whose strings hold brackets, escaped quotes, an escaped backslash before a closing quote, and unicode. */
const VALUE = String.raw`{"a":"}]{[","b":["x\"}",{"c":"\\"}],"d":"\u007d é \\\"}"}`;

/** Feeds `text` from its first character, cut at `cuts`; returns the index of the close in the whole text. */
function closeOf(text: string, cuts: number[]): number {
  const nesting = new JsonNesting();
  nesting.open();
  let seen = "";
  let from = 1;
  for (const end of [...cuts, text.length]) {
    seen = text.slice(0, end);
    const close = nesting.findClose(seen, from);
    if (close >= 0) return close;
    from = seen.length;
  }
  return -1;
}

Deno.test("JsonNesting finds the closing brace past brackets and escapes inside strings, wherever the text is cut", () => {
  assert.deepEqual(JSON.parse(VALUE).d, '} é \\"}');
  const text = VALUE + ' {"next":1}';
  for (let cut = 1; cut < text.length; cut++) {
    assert.equal(closeOf(text, [cut]), VALUE.length - 1, `cut at ${cut}`);
  }
  const everyCharacter = Array.from({ length: text.length - 1 }, (_, i) => i + 1);
  assert.equal(closeOf(text, everyCharacter), VALUE.length - 1, "one character at a time");
});

Deno.test("JsonNesting reports no close while the value is open, and forgets it on reset()", () => {
  const nesting = new JsonNesting();
  nesting.open();
  assert.equal(nesting.findClose('{"a":"}', 1), -1, "the brace is inside a string");
  assert.ok(nesting.inValue);
  nesting.reset();
  assert.equal(nesting.inValue, false);
  nesting.open();
  assert.equal(nesting.findClose('{"a":1}', 1), 6, "a fresh value, not the string left open before");
});
