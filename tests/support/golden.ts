/**
 * Golden-file comparison and `promtool check metrics` for exposition output.
 * Set `UPDATE_GOLDEN=1` to rewrite the golden files from the current output instead of comparing.
 */
import assert from "node:assert/strict";

/** True when golden files should be rewritten rather than compared. */
export const UPDATE_GOLDEN = Deno.env.get("UPDATE_GOLDEN") === "1";

/** The URL of a file in tests/testdata/. */
export function testdata(name: string): URL {
  return new URL(`../testdata/${name}`, import.meta.url);
}

/**
 * Compares `actual` with the golden file `name` in tests/testdata/ as exact strings,
 * or rewrites the file when `UPDATE_GOLDEN=1`.
 */
export async function assertGolden(name: string, actual: string): Promise<void> {
  const file = testdata(name);
  if (UPDATE_GOLDEN) {
    await Deno.writeTextFile(file, actual);
    console.log(`rewrote tests/testdata/${name}`);
    return;
  }
  let expected: string;
  try {
    expected = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(`tests/testdata/${name} is missing; create it with UPDATE_GOLDEN=1`);
    }
    throw error;
  }
  assert.equal(actual, expected, `output differs from tests/testdata/${name} (UPDATE_GOLDEN=1 rewrites it)`);
}

function findPromtool(): boolean {
  try {
    return new Deno.Command("promtool", { args: ["--version"], stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

/** Whether `promtool` can be run; tests that need it are ignored (with a message) when it cannot. */
export const HAVE_PROMTOOL = findPromtool();
if (!HAVE_PROMTOOL) {
  console.log("promtool not found (Debian package `prometheus`): skipping `promtool check metrics` tests");
}

/** Runs `promtool check metrics` over `text`; returns its exit code and everything it printed. */
export async function promtoolCheckMetrics(text: string): Promise<{ code: number; output: string }> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, output: decoder.decode(stdout) + decoder.decode(stderr) };
}
