/**
 * The docs, held against the code and against themselves: the README stays a front door (small, short lines), the
 * settings table of docs/configuration.md is the `SETTINGS` table, docs/metrics.md names every family of the golden
 * scrapes, and every relative link reaches its file and heading.
 */
import assert from "node:assert/strict";
import { SETTINGS } from "../../lib/config/settings.ts";

const ROOT = new URL("../../", import.meta.url);

/** The README's budget, in bytes (STYLE.md: "at most 15 KB"). */
const README_MAX_BYTES = 15_000;

/** The longest line the README may have, in characters. */
const README_MAX_LINE = 300;

/** `EXPORTER_*` names a page may use that are not settings, and why. */
const NOT_SETTINGS: Record<string, string> = {
  EXPORTER_IMAGE: "the compose files' variable naming the image to run",
};

const read = (path: string) => Deno.readTextFileSync(new URL(path, ROOT));

/** README.md and every page of docs/, as paths from the repository root. */
function pages(): string[] {
  const docs = [...Deno.readDirSync(new URL("docs/", ROOT))]
    .filter((entry) => entry.isFile && entry.name.endsWith(".md"))
    .map((entry) => `docs/${entry.name}`)
    .sort();
  return ["README.md", ...docs];
}

/** The text of a page without its fenced code blocks, whose `#` lines are not headings and whose brackets not links. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, "");
}

/** The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const [, heading] of prose(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = heading.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    result.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return result;
}

/** The cells of the rows of the first table in the `## heading` section of a page. */
function tableRows(markdown: string, heading: string): string[][] {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `no "## ${heading}" section`);
  const end = markdown.indexOf("\n## ", start + 1);
  const section = markdown.slice(start, end < 0 ? undefined : end);
  const lines = section.split("\n");
  const first = lines.findIndex((line) => line.startsWith("|"));
  assert.ok(first >= 0, `no table under "## ${heading}"`);
  const rows: string[][] = [];
  // The header and the divider line come first.
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(line.slice(1, -1).split("|").map((cell) => cell.trim()));
  }
  return rows;
}

const unquote = (cell: string) => /^`([^`]*)`$/.exec(cell)?.[1] ?? cell;

Deno.test("README.md stays at most 15,000 bytes", () => {
  const size = Deno.statSync(new URL("README.md", ROOT)).size;
  assert.ok(size <= README_MAX_BYTES, `README.md is ${size} bytes; move detail to a page of docs/`);
});

Deno.test("README.md has no line over 300 characters", () => {
  const long = read("README.md").split("\n")
    .map((line, i) => ({ line: i + 1, length: [...line].length }))
    .filter(({ length }) => length > README_MAX_LINE);
  assert.deepEqual(long, []);
});

Deno.test("docs/configuration.md lists every setting with its variable and flag, in the order of --help, and no other", () => {
  const documented = tableRows(read("docs/configuration.md"), "Settings").map(([env, flag]) => [
    unquote(env),
    unquote(flag),
  ]);
  assert.deepEqual(documented, SETTINGS.map((s) => [s.env, s.flag]));
});

Deno.test("docs/configuration.md gives each setting's default as the SETTINGS table does", () => {
  const defaults = new Map(
    tableRows(read("docs/configuration.md"), "Settings").map(([env, , value]) => [unquote(env), value]),
  );
  for (const setting of SETTINGS) {
    const cell = defaults.get(setting.env) ?? "";
    // An empty default is the setting left unset; the cell may go on to say what that means.
    const expected = setting.default === "" ? "(unset)" : `\`${setting.default}\``;
    assert.ok(
      cell === expected || cell.startsWith(`${expected}:`) || cell.startsWith(`${expected},`),
      `${setting.env}: the default is ${JSON.stringify(setting.default)}, the page says ${JSON.stringify(cell)}`,
    );
  }
});

Deno.test("no page names an EXPORTER_ variable that is not a setting", () => {
  const settings = new Set(SETTINGS.map((s) => s.env));
  const unknown: string[] = [];
  for (const page of pages()) {
    for (const [name] of read(page).matchAll(/\bEXPORTER_[A-Z][A-Z0-9_]*\b/g)) {
      if (!settings.has(name) && !(name in NOT_SETTINGS)) unknown.push(`${page}: ${name}`);
    }
  }
  assert.deepEqual([...new Set(unknown)], []);
});

Deno.test("docs/metrics.md names every family of the golden scrapes", () => {
  const page = read("docs/metrics.md");
  const missing: string[] = [];
  for (const golden of ["tests/testdata/scrape.prom", "tests/testdata/resource_metrics.prom"]) {
    for (const [, name] of read(golden).matchAll(/^# TYPE (\S+) /gm)) {
      if (!page.includes(`\`${name}\``)) missing.push(name);
    }
  }
  assert.deepEqual(missing, []);
});

Deno.test("every relative link of README.md and docs/ reaches a file, and a heading when it names one", () => {
  const broken: string[] = [];
  for (const page of pages()) {
    const base = new URL(page, ROOT);
    for (const [, target] of prose(read(page)).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target)) continue;
      const [path, anchor] = target.split("#", 2);
      const url = path === "" ? base : new URL(path, base);
      const text = tryRead(url);
      if (text === undefined) {
        broken.push(`${page}: ${target} (no such file)`);
      } else if (anchor !== undefined && url.pathname.endsWith(".md") && !anchors(text).has(anchor)) {
        broken.push(`${page}: ${target} (no such heading)`);
      }
    }
  }
  assert.deepEqual(broken, []);
});

/** A file's text, or undefined when there is no such file (a folder counts as there, with no headings). */
function tryRead(url: URL): string | undefined {
  try {
    return Deno.statSync(url).isDirectory ? "" : Deno.readTextFileSync(url);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}
