import assert from "node:assert/strict";
import { concatBytes } from "../../../lib/shared/bytes.ts";

Deno.test("concatBytes() copies the parts in order into one new array, views at an offset included", () => {
  const backing = new Uint8Array([9, 9, 3, 4, 9]);
  const parts = [new Uint8Array([1, 2]), backing.subarray(2, 4), new Uint8Array(0), new Uint8Array([5])];
  const joined = concatBytes(parts);
  assert.deepEqual(Array.from(joined), [1, 2, 3, 4, 5]);
  backing[2] = 0;
  assert.equal(joined[2], 3, "a copy, not a view");
  assert.equal(concatBytes([]).length, 0);
});
