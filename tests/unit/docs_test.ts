/**
 * The docs, held against the code and against themselves: the README stays a front door (small, short lines), the
 * settings table of docs/configuration.md is the `SETTINGS` table, docs/metrics.md names every family of the golden
 * scrapes, every relative link reaches its file and heading, and every command line the docs give spells out the
 * permission sets of lib/config/permissions.ts.
 */
import assert from "node:assert/strict";
import { SETTINGS } from "../../lib/config/settings.ts";
import { parseDockerEndpoint } from "../../lib/docker/endpoint.ts";
import {
  commandFor,
  describeNeeds,
  IMAGE_MOUNTS,
  IMAGE_PERMISSIONS,
  needsOf,
  permissionFlags,
  permissionsOf,
  RUNTIME_ENV,
  RUNTIME_FLAGS,
  STANDARD_SOCKETS,
  START_PERMISSIONS,
  unionOf,
  withRuntimeDir,
} from "../../lib/config/permissions.ts";

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

Deno.test("docs/metrics.md's table of cAdvisor's families says served of exactly the container_ families the exporter writes", () => {
  const served: string[] = [];
  for (const [families, here] of tableRows(read("docs/metrics.md"), "cAdvisor's container families")) {
    if (!here.startsWith("served")) continue;
    for (const [, name] of families.matchAll(/`(container_[a-z0-9_]+)`/g)) served.push(name);
  }
  const written = [...read("tests/testdata/resource_metrics.prom").matchAll(/^# TYPE (container_\S+) /gm)]
    .map(([, name]) => name);
  assert.deepEqual(served.toSorted(), written.toSorted());
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

/**
 * The part of a page under `heading` (e.g. `## Settings`), up to the next heading of the same or a higher level; a
 * `#` line inside a code block is not a heading.
 */
function section(markdown: string, heading: string): string {
  const lines = markdown.split("\n");
  const start = lines.indexOf(heading);
  assert.ok(start >= 0, `no "${heading}" section`);
  const level = heading.indexOf(" ");
  let fenced = false;
  let end = start + 1;
  for (; end < lines.length; end++) {
    if (/^(```|~~~)/.test(lines[end])) fenced = !fenced;
    else if (!fenced && new RegExp(`^#{1,${level}} `).test(lines[end])) break;
  }
  return lines.slice(start + 1, end).join("\n");
}

/** The fenced code blocks of some markdown, each with the lines a trailing backslash continues joined into one. */
function codeBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```[^\n]*\n([\s\S]*?)^```[ \t]*$/gm)].map((m) => m[1].replace(/\\\n\s*/g, " "));
}

/** The words of a command line as a POSIX shell splits them, for the simple quoting the docs use: `'...'` words. */
function words(line: string): string[] {
  return line.trim().split(/\s+/).map((word) => word.replace(/^'(.*)'$/, "$1"));
}

const START_FLAGS = permissionFlags(START_PERMISSIONS);
const IMAGE_FLAGS = permissionFlags(IMAGE_PERMISSIONS);

Deno.test("docs/permissions.md gives every flag of the start task and of the image verbatim", () => {
  const page = read("docs/permissions.md");
  const missing = [...RUNTIME_FLAGS, ...START_FLAGS, ...IMAGE_FLAGS].filter((flag) => !page.includes(`\`${flag}\``));
  assert.deepEqual(missing, []);
});

Deno.test("docs/permissions.md's example refusal is what the exporter prints for a socket the start task does not grant", () => {
  // As main.ts builds it for `deno task start` with DOCKER_HOST=unix:///srv/docker.sock, XDG_RUNTIME_DIR unset and
  // the checkout in /opt/docker-exporter.
  const dockerSetting = "DOCKER_HOST=unix:///srv/docker.sock";
  const needs = needsOf({
    docker: parseDockerEndpoint("unix:///srv/docker.sock")!,
    dockerSetting,
    host: "0.0.0.0",
    port: 8000,
    listenSetting: "EXPORTER_HOST=0.0.0.0 and EXPORTER_PORT=8000",
    resourceMetrics: "auto",
    cgroupRoot: "/sys/fs/cgroup",
    procRoot: "/proc",
    files: [],
  });
  const missing = needs.filter((need) => need.setting === dockerSetting);
  const command = commandFor(withRuntimeDir(unionOf(START_PERMISSIONS, permissionsOf(needs)), undefined), {
    main: "/opt/docker-exporter/main.ts",
    args: [],
    standalone: false,
  });
  const expected = `docker-exporter: ${dockerSetting}: ${describeNeeds(missing)}; ` +
    `run it with the permissions this configuration needs:\n${command}\n`;
  const blocks = codeBlocks(section(read("docs/permissions.md"), "## When a permission is missing"));
  assert.equal(blocks[0], expected);
});

Deno.test("docs/running.md gives the image's command as the Dockerfile's: the runtime flags and the image permissions", () => {
  const [command] = codeBlocks(section(read("docs/running.md"), "### The image's command"));
  assert.deepEqual(words(command), [
    "deno",
    "run",
    "--cached-only",
    "--frozen",
    ...RUNTIME_FLAGS,
    ...IMAGE_FLAGS,
    "main.ts",
  ]);
});

Deno.test("the systemd unit of docs/running.md runs exactly the start task's flags and environment, $XDG_RUNTIME_DIR as %t", () => {
  const unit = section(read("docs/running.md"), "## As a systemd service");
  const lines = codeBlocks(unit).flatMap((block) => block.split("\n"));
  const execStarts = lines.filter((line) => line.startsWith("ExecStart="));
  assert.equal(execStarts.length, 1, "one ExecStart");
  const [deno, run, ...rest] = words(execStarts[0].slice("ExecStart=".length));
  assert.ok(deno.endsWith("/deno") && run === "run", execStarts[0]);
  assert.ok(rest.at(-1)!.endsWith("/main.ts"), execStarts[0]);
  // systemd's %t is the runtime directory: $XDG_RUNTIME_DIR in a user unit, /run in a system one. The page says so.
  assert.deepEqual(rest.slice(0, -1), [...RUNTIME_FLAGS, ...permissionFlags(withRuntimeDir(START_PERMISSIONS, "%t"))]);
  assert.match(unit, /`\$XDG_RUNTIME_DIR` is written `%t`/);
  const environment = lines.filter((line) => line.startsWith("Environment=")).flatMap((line) =>
    words(line.slice("Environment=".length))
  );
  for (const [name, value] of Object.entries(RUNTIME_ENV)) assert.ok(environment.includes(`${name}=${value}`), name);
});

Deno.test("docs/running.md's deno compile command for another platform has the compile task's flags", () => {
  const commands = codeBlocks(section(read("docs/running.md"), "## The compiled binary"))
    .flatMap((block) => block.split("\n")).filter((line) => line.startsWith("deno compile "));
  assert.equal(commands.length, 1);
  const [, , ...rest] = words(commands[0]);
  assert.deepEqual(rest.slice(0, rest.indexOf("--target")), [...RUNTIME_FLAGS, ...START_FLAGS]);
});

Deno.test("every docker run line of README.md and docs/running.md mounts the host's cgroup tree and /proc where the image reads them", () => {
  const mounts = [`/sys/fs/cgroup:${IMAGE_MOUNTS.cgroupRoot}:ro`, `/proc:${IMAGE_MOUNTS.procRoot}:ro`];
  for (const page of ["README.md", "docs/running.md"]) {
    const runs = codeBlocks(read(page)).flatMap((block) => block.split("\n"))
      .filter((line) => line.startsWith("docker run "));
    assert.ok(runs.length > 0, `${page} has no docker run line`);
    for (const run of runs) {
      const volumes = words(run).filter((_, i, all) => all[i - 1] === "-v");
      for (const mount of mounts) assert.ok(volumes.includes(mount), `${page}: ${run}`);
    }
  }
});

Deno.test("docs/configuration.md lists the standard sockets in the order the exporter looks for them", () => {
  const listed = [...section(read("docs/configuration.md"), "## The engine").matchAll(/^\d+\. `([^`]+)`$/gm)]
    .map((m) => m[1]);
  assert.deepEqual(listed, STANDARD_SOCKETS);
});
