import assert from "node:assert/strict";
import Module from "node:module";
import { loadDockerode, SKIPPED_DOCKERODE_PARTS } from "../../../lib/docker/dockerode.ts";

const commonJs = Module as unknown as { _load: unknown; _cache: Record<string, unknown> };

/** The npm package a loaded CommonJS file belongs to, e.g. "docker-modem" or "@grpc/grpc-js". */
function packageOf(file: string): string | undefined {
  return /registry\.npmjs\.org\/((?:@[^/]+\/)?[^/]+)\//.exec(file)?.[1];
}

Deno.test("loadDockerode() loads dockerode but none of the parts it skips, docker-modem among them", async () => {
  const loadBefore = commonJs._load;
  const Docker = await loadDockerode();
  assert.equal(typeof Docker, "function");
  assert.equal(commonJs._load, loadBefore, "the CommonJS loader is restored afterwards");

  const files = Object.keys(commonJs._cache);
  const loaded = new Set(files.map(packageOf));
  assert.ok(loaded.has("dockerode"), [...loaded].join(", "));
  for (const skipped of SKIPPED_DOCKERODE_PARTS.keys()) assert.ok(!loaded.has(skipped), `${skipped} was evaluated`);
  assert.ok(!loaded.has("protobufjs"), "protobufjs (grpc's dependency) was evaluated");
  assert.ok(
    !files.some((file) => /\/dockerode\/[^/]+\/lib\/session\.js$/.test(file)),
    "dockerode's session.js was evaluated",
  );
});

Deno.test("loadDockerode() returns the same class on every call", async () => {
  assert.equal(await loadDockerode(), await loadDockerode());
});

Deno.test("a skipped part fails with a message naming it when dockerode reaches for it", async () => {
  const Docker = await loadDockerode();
  // Without a modem of its own, dockerode builds docker-modem's.
  assert.throws(
    () => new Docker({ socketPath: "/var/run/docker.sock" }),
    new Error(
      "docker-exporter does not load docker-modem: dockerode clients without the exporter's own modem are not supported",
    ),
  );
});
