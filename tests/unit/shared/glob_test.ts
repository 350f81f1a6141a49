import assert from "node:assert/strict";
import { globMatches } from "../../../lib/shared/glob.ts";

Deno.test("globMatches() reads * as any run and ? as any one character, as a regular expression would", () => {
  const table: Array<[string, string, boolean]> = [
    ["", "", true],
    ["", "a", false],
    ["*", "", true],
    ["**", "abc", true],
    ["?", "", false],
    ["?*", "a", true],
    ["a*", "a", true],
    ["*a", "ba", true],
    ["*a", "ab", false],
    ["a*b*c", "aXbYc", true],
    ["a*b*c", "aXbYcZ", false],
    ["a*bc", "abcbc", true],
    ["a?c", "abc", true],
    ["a?c", "ac", false],
    ["*.*.*", "com.example.team", true],
    ["*x*", "com.example.team", true],
    ["*q*", "com.example.team", false],
  ];
  for (const [glob, text, expected] of table) assert.equal(globMatches(glob, text), expected, `${glob} ${text}`);
  // And against a regular expression on every glob of up to 4 characters over {a, *, ?} and texts over {a, b}.
  const globs = [""];
  for (let length = 1; length <= 4; length++) {
    for (const prefix of globs.filter((g) => g.length === length - 1)) {
      globs.push(...["a", "*", "?"].map((c) => prefix + c));
    }
  }
  const texts = ["", "a", "b", "ab", "ba", "aab", "abab", "bbbb", "aaaaa"];
  for (const glob of globs) {
    const regex = new RegExp(`^${glob.replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
    for (const text of texts) assert.equal(globMatches(glob, text), regex.test(text), `${glob} ${text}`);
  }
});
