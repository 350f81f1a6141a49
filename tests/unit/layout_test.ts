/**
 * The house's plan, held against its imports: which folder of lib/ may import which (docs/design.md), that another
 * folder is reached only through its mod.ts, and that every folder has a mod.ts that says what lives there.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const LIB = new URL("../../lib/", import.meta.url);

/** Each folder of lib/ and the folders it may import, as docs/design.md gives them. */
const MAY_IMPORT: Record<string, readonly string[]> = {
  "shared": [],
  "docker/wire": [],
  "docker": ["shared", "docker/wire"],
  "engine": ["docker", "shared"],
  "resources": ["engine", "docker", "shared"],
  "metrics": ["resources", "engine", "docker", "shared"],
  "http/scrape": ["metrics", "shared"],
  "http": ["http/scrape", "metrics", "engine", "shared"],
  "config": ["docker", "resources", "shared"],
  "": ["shared", "docker", "engine", "resources", "metrics", "http", "http/scrape", "config"],
};

/** Every .ts file under lib/, as paths relative to lib/. */
function libFiles(dir = ""): string[] {
  const files: string[] = [];
  for (const entry of Deno.readDirSync(new URL(dir, LIB))) {
    const path = `${dir}${entry.name}`;
    if (entry.isDirectory) files.push(...libFiles(`${path}/`));
    else if (entry.name.endsWith(".ts")) files.push(path);
  }
  return files;
}

function folderOf(path: string): string {
  return path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
}

/** The relative imports of a file (static `from "..."` and dynamic `import("...")`), resolved against lib/. */
function importsOf(path: string): string[] {
  const text = Deno.readTextFileSync(new URL(path, LIB));
  const specifiers = [...text.matchAll(/(?:from\s+|import\()\s*"(\.[^"]+)"/g)].map((match) => match[1]);
  const base = new URL(path, LIB);
  return specifiers.map((specifier) => fileURLToPath(new URL(specifier, base)).slice(fileURLToPath(LIB).length));
}

Deno.test("every folder of lib/ is in the plan and has a mod.ts that says what lives there and what it may import", () => {
  const folders = new Set(libFiles().map(folderOf));
  assert.deepEqual([...folders].sort(), Object.keys(MAY_IMPORT).sort());
  for (const folder of folders) {
    if (folder === "") continue;
    const face = Deno.readTextFileSync(new URL(`${folder}/mod.ts`, LIB));
    assert.match(face, /^\/\*\*\n \* \S/, `${folder}/mod.ts opens with a module doc`);
    assert.match(face, /May import|Imports nothing/, `${folder}/mod.ts says what it may import`);
  }
});

Deno.test("imports run one way: a folder imports only the folders the plan allows, through their mod.ts", () => {
  const wrong: string[] = [];
  for (const file of libFiles()) {
    const from = folderOf(file);
    for (const target of importsOf(file)) {
      if (target.startsWith("..")) {
        wrong.push(`${file} imports ${target}, outside lib/`);
        continue;
      }
      const to = folderOf(target);
      if (to === from) continue;
      if (!MAY_IMPORT[from].includes(to)) {
        wrong.push(`${file} imports ${target}: ${from || "lib"} may not import ${to}`);
      } else if (!target.endsWith("/mod.ts")) wrong.push(`${file} imports ${target}, not ${to}/mod.ts`);
    }
  }
  assert.deepEqual(wrong, []);
});
