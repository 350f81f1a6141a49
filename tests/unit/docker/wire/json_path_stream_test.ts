import assert from "node:assert/strict";
import { JsonPathDecoder, JsonPathError, type PathElement } from "../../../../lib/docker/wire/json_path_stream.ts";

const encoder = new TextEncoder();

/** Decodes `text` fed in pieces of `size` bytes, and ends it; returns the elements and the paths present. */
function decodeInPieces(
  text: string,
  size: number,
  arrays: string[],
  watch: string[] = [],
): { elements: PathElement[]; present: string[] } {
  const bytes = encoder.encode(text);
  const decoder = new JsonPathDecoder(arrays, { watch });
  const elements: PathElement[] = [];
  for (let at = 0; at < bytes.length; at += size) elements.push(...decoder.push(bytes.subarray(at, at + size)));
  decoder.end();
  return { elements, present: [...decoder.present].sort() };
}

/** A `/system/df`-like document with strings that look like structure, escapes and multi-byte characters. */
const DOCUMENT = {
  LayersSize: 1092588,
  Images: [
    { Id: "sha256:a", RepoTags: ["<none>:<none>"], Size: 1092588, Labels: { "x]": "}{", quote: 'say "hi" \\' } },
    { Id: "sha256:b", RepoTags: null, Size: 5, Labels: { "ünï": "cødé ✓ 😀" } },
  ],
  Containers: [{ Id: "c1", SizeRw: 12, Names: ["/web"], Ports: [[], [{}]], Mounts: [] }],
  Volumes: [],
  BuildCache: null,
  Skipped: { Images: [{ not: "this one" }], deep: [[{ Images: [1] }], '\\"', -1.5e3, true, false, null] },
  ImageUsage: { TotalCount: 2, Items: [{ Id: "sha256:new" }] },
};

Deno.test("JsonPathDecoder yields the elements of the arrays asked for, wherever the pieces are cut", () => {
  const text = ` \n${JSON.stringify(DOCUMENT, null, 1)}\n`;
  const expected = {
    elements: [
      ...DOCUMENT.Images.map((value) => ({ path: "Images", value })),
      ...DOCUMENT.Containers.map((value) => ({ path: "Containers", value })),
      { path: "ImageUsage.Items", value: { Id: "sha256:new" } },
    ],
    present: ["BuildCache", "Containers", "ImageUsage", "ImageUsage.Items", "Images", "Volumes"],
  };
  const arrays = ["Images", "Containers", "Volumes", "BuildCache", "ImageUsage.Items", "Missing"];
  for (const size of [1, 2, 3, 7, 64, text.length * 4]) {
    assert.deepEqual(decodeInPieces(text, size, arrays, ["ImageUsage"]), expected, `${size}`);
  }
});

Deno.test("JsonPathDecoder hands back each element as soon as it is complete", () => {
  const decoder = new JsonPathDecoder(["Images"]);
  assert.deepEqual(decoder.push(encoder.encode('{"LayersSize":1,"Images":[{"Id":"a"},{"Id":')), [
    { path: "Images", value: { Id: "a" } },
  ]);
  assert.deepEqual(decoder.push(encoder.encode('"b"}')), [{ path: "Images", value: { Id: "b" } }]);
  assert.throws(() => decoder.end(), { name: "JsonPathError", message: "the text ended inside the object" });
  assert.deepEqual(decoder.push(encoder.encode("]}")), []);
  decoder.end();
});

Deno.test("JsonPathDecoder yields scalar elements and elements that are arrays", () => {
  const text = '{"A":[1,"two",[3],null,{"x":"]"}]}';
  assert.deepEqual(decodeInPieces(text, 1, ["A"]).elements.map((e) => e.value), [1, "two", [3], null, { x: "]" }]);
});

Deno.test("JsonPathDecoder keeps nothing it skips: a long string outside the arrays is scanned, not buffered", () => {
  const decoder = new JsonPathDecoder(["Images"], { maxElementChars: 100 });
  decoder.push(encoder.encode('{"Note":"'));
  for (let i = 0; i < 100; i++) decoder.push(encoder.encode("x".repeat(1000) + '\\"'));
  assert.deepEqual(decoder.push(encoder.encode('","Images":[{"Id":"a"}]}')), [{ path: "Images", value: { Id: "a" } }]);
  decoder.end();
});

Deno.test("JsonPathDecoder refuses an element longer than its bound", () => {
  const decoder = new JsonPathDecoder(["Images"], { maxElementChars: 100 });
  assert.throws(
    () => decoder.push(encoder.encode(`{"Images":[{"Id":"${"a".repeat(200)}`)),
    { name: "JsonPathError", message: "an element is longer than 100 characters" },
  );
});

Deno.test("JsonPathDecoder refuses what is not an object, before it opens", () => {
  for (const text of ["<html>proxy error</html>", "[]", "null", '"Images"']) {
    const decoder = new JsonPathDecoder(["Images"]);
    assert.throws(() => {
      decoder.push(encoder.encode(text));
      decoder.end();
    }, { name: "JsonPathError", message: "the text is not a JSON object" });
    assert.equal(decoder.opened, false, text);
    assert.equal(decoder.sample, text);
  }
  assert.throws(() => new JsonPathDecoder([]).end(), { message: "the text is empty" });
});

Deno.test("JsonPathDecoder refuses a path asked for that holds something other than an array or null", () => {
  for (const text of ['{"Images":{"a":1}}', '{"Images":"x"}', '{"Images":3}', '{"Images":false}']) {
    assert.throws(() => decodeInPieces(text, 1, ["Images"]), {
      name: "JsonPathError",
      message: "Images is neither an array nor null",
    }, text);
  }
  assert.deepEqual(decodeInPieces('{"Images":null}', 1, ["Images"]), { elements: [], present: ["Images"] });
});

Deno.test("JsonPathDecoder refuses a broken object, naming where", () => {
  const cases: [string, RegExp][] = [
    ['{"a":1 "b":2}', /unexpected "\\"" after a member of an object/],
    ['{"a":1,}', /unexpected "}" where a key should be/],
    ['{"a" 1}', /unexpected "1" after a key/],
    ["{1:2}", /unexpected "1" where a key or the end of an object should be/],
    ['{"a":}', /unexpected "}" where a value should be/],
    ['{"a":[1 2]}', /unexpected "2" after an element of an array/],
    ['{"a":[1,]}', /unexpected "]" where a value should be/],
    ['{"a":[1}', /unexpected "}" after an element of an array/],
    ['{"a":nope}', /a value is not JSON/],
    ['{"Images":[{"Id":"a",}]}', /an element is not JSON/],
    ['{"a":1} x', /unexpected "x" after the end of the object/],
    ['{"a":1', /the text ended inside the object/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => decodeInPieces(text, 1, ["Images"]), (error: Error) => {
      assert.ok(error instanceof JsonPathError, text);
      assert.match(error.message, message, text);
      return true;
    });
  }
});

Deno.test("JsonPathDecoder refuses text that is not UTF-8, or ends inside a character", () => {
  const decoder = new JsonPathDecoder([]);
  assert.throws(() => decoder.push(new Uint8Array([0x7b, 0xff])), { message: "the text is not UTF-8" });
  const cut = new JsonPathDecoder([]);
  cut.push(encoder.encode('{"a":"é"}').subarray(0, 7));
  assert.throws(() => cut.end(), { message: "the text ends inside a UTF-8 character" });
});
