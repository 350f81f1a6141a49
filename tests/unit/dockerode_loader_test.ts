import assert from "node:assert/strict";
import Module from "node:module";
import { loadDockerode, SKIPPED_DOCKERODE_PARTS } from "../../lib/dockerode_loader.ts";

const commonJs = Module as unknown as { _load: unknown; _cache: Record<string, unknown> };

/** The npm package a loaded CommonJS file belongs to, e.g. "docker-modem" or "@grpc/grpc-js". */
function packageOf(file: string): string | undefined {
  return /registry\.npmjs\.org\/((?:@[^/]+\/)?[^/]+)\//.exec(file)?.[1];
}

Deno.test("loadDockerode() loads dockerode and docker-modem but none of the parts it skips", async () => {
  const loadBefore = commonJs._load;
  const Docker = await loadDockerode();
  assert.equal(typeof Docker, "function");
  assert.equal(commonJs._load, loadBefore, "the CommonJS loader is restored afterwards");

  const loaded = new Set(Object.keys(commonJs._cache).map(packageOf));
  assert.ok(loaded.has("dockerode") && loaded.has("docker-modem"), [...loaded].join(", "));
  for (const skipped of SKIPPED_DOCKERODE_PARTS.keys()) assert.ok(!loaded.has(skipped), `${skipped} was evaluated`);
  assert.ok(!loaded.has("protobufjs"), "protobufjs (grpc's dependency) was evaluated");
});

Deno.test("loadDockerode() returns the same class on every call", async () => {
  assert.equal(await loadDockerode(), await loadDockerode());
});

Deno.test("a skipped part fails with a message naming it when dockerode reaches for it", async () => {
  const Docker = await loadDockerode();
  const overSsh = new Docker({ protocol: "ssh", host: "127.0.0.1", port: 1 });
  await assert.rejects(
    overSsh.listContainers(),
    new Error("docker-exporter does not load ssh2: ssh:// Docker hosts are not supported"),
  );
});
