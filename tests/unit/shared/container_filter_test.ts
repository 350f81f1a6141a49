import assert from "node:assert/strict";
import {
  ContainerFilter,
  type ContainerPattern,
  IGNORE_LABEL,
  parseContainerPatterns,
} from "../../../lib/shared/container_filter.ts";

function patterns(text: string): ContainerPattern[] {
  const parsed = parseContainerPatterns(text);
  assert.ok("patterns" in parsed, `${text}: ${JSON.stringify(parsed)}`);
  return parsed.patterns;
}

Deno.test("parseContainerPatterns() reads name globs and label:KEY=VALUE_GLOB, skipping blanks and empty items", () => {
  assert.deepEqual(patterns(""), []);
  assert.deepEqual(patterns(" , ,"), []);
  assert.deepEqual(patterns(" shop-*, db-?,web_1.a ,, label:com.docker.compose.project=shop,label:team=*"), [
    { kind: "name", glob: "shop-*" },
    { kind: "name", glob: "db-?" },
    { kind: "name", glob: "web_1.a" },
    { kind: "label", key: "com.docker.compose.project", valueGlob: "shop" },
    { kind: "label", key: "team", valueGlob: "*" },
  ]);
  // The value glob is everything after the first =, an empty one included.
  assert.deepEqual(patterns("label:a/b=x=y *,label:empty="), [
    { kind: "label", key: "a/b", valueGlob: "x=y *" },
    { kind: "label", key: "empty", valueGlob: "" },
  ]);
});

Deno.test("parseContainerPatterns() names the first bad pattern and what it should be", () => {
  const table: Array<[string, string, RegExp]> = [
    ["ok,/web", "/web", /neither a container name glob/],
    ["web app", "web app", /neither a container name glob/],
    ["name=web", "name=web", /neither a container name glob/],
    ["label:team", "label:team", /has no value; use label:KEY=VALUE_GLOB \(label:KEY=\* for any value\)/],
    ["label:=x", "label:=x", /names no label key/],
    ["label:te am=x", "label:te am=x", /names no label key/],
    ["label:team*=x", "label:team*=x", /names no label key/],
  ];
  for (const [text, bad, why] of table) {
    const parsed = parseContainerPatterns(text);
    assert.ok("bad" in parsed, text);
    assert.equal(parsed.bad, bad, text);
    assert.match(parsed.why, why, text);
  }
});

Deno.test("ContainerFilter follows every container but an ignored one when there are no patterns", () => {
  const all = new ContainerFilter();
  assert.ok(all.follows("web", {}));
  assert.ok(all.follows("/web", { [IGNORE_LABEL]: "false" }));
  assert.ok(!all.follows("web", { [IGNORE_LABEL]: "true" }));
  assert.deepEqual([...all.labelKeys], [IGNORE_LABEL]);
});

Deno.test("ContainerFilter follows what matches an include pattern, if any, and no exclude pattern", () => {
  const filter = new ContainerFilter(
    patterns("shop-*,label:com.docker.compose.project=shop"),
    patterns("*-debug,label:team=qa*"),
  );
  const table: Array<[string, Record<string, string>, boolean]> = [
    ["shop-web-1", {}, true],
    ["/shop-web-1", {}, true],
    ["db", {}, false],
    ["db", { "com.docker.compose.project": "shop" }, true],
    ["db", { "com.docker.compose.project": "shopping" }, false],
    ["shop-web-debug", {}, false],
    ["shop-web-1", { team: "qa-east" }, false],
    ["shop-web-1", { team: "ops" }, true],
    ["shop-web-1", { [IGNORE_LABEL]: "true" }, false],
  ];
  for (const [name, labels, expected] of table) {
    assert.equal(filter.follows(name, labels), expected, `${name} ${JSON.stringify(labels)}`);
  }
  assert.deepEqual([...filter.labelKeys].sort(), [IGNORE_LABEL, "com.docker.compose.project", "team"].sort());
});

Deno.test("ContainerFilter reads only own labels, so a key every object has matches nothing it lacks", () => {
  const filter = new ContainerFilter(patterns("label:constructor=*"));
  assert.ok(!filter.follows("web", {}));
  assert.ok(filter.follows("web", { constructor: "x" }));
  assert.ok(new ContainerFilter([], patterns("label:toString=*")).follows("web", {}));
});

Deno.test("ContainerFilter reads an event's attributes as labels: the name and image there are no labels it asked for", () => {
  // Docker's attributes of a die event: the labels, then name, image and exitCode.
  const attributes = { "com.docker.compose.project": "shop", name: "shop-web-1", image: "nginx", exitCode: "0" };
  assert.ok(new ContainerFilter(patterns("label:com.docker.compose.project=shop")).follows("shop-web-1", attributes));
  assert.ok(!new ContainerFilter([], patterns("shop-*")).follows(attributes.name, attributes));
});
