import assert from "node:assert/strict";
import { inspect } from "node:util";
import { createDockerApi } from "../../lib/docker_api.ts";
import type { DockerodeConstructor } from "../../lib/dockerode_loader.ts";

const ENDPOINT = { kind: "unix", path: "/nonexistent.sock", url: "unix:///nonexistent.sock" } as const;

/** A dockerode stand-in that records the options of each `listContainers` call and answers `answer`. */
function recordingDocker(answer: () => Promise<unknown>) {
  const calls: { abortSignal: AbortSignal }[] = [];
  class Docker {
    listContainers(options: { abortSignal: AbortSignal }) {
      calls.push(options);
      return answer();
    }
  }
  return { Docker: Docker as unknown as DockerodeConstructor, calls };
}

Deno.test("the AbortSignal handed to dockerode prints as one word under docker-modem's util.inspect", async () => {
  const { Docker, calls } = recordingDocker(() => Promise.resolve([]));
  const api = createDockerApi(ENDPOINT, { Docker, timeoutMs: 1000 });
  assert.deepEqual(await api.listContainers(), []);
  // docker-modem logs every request with these options whether or not debugging is on.
  assert.equal(inspect(calls[0].abortSignal, { showHidden: true, depth: null }), "[AbortSignal]");
  assert.ok(calls[0].abortSignal instanceof AbortSignal);
});

Deno.test("the AbortSignal handed to dockerode still aborts the call when the timeout passes", async () => {
  const { Docker, calls } = recordingDocker(() => new Promise(() => {}));
  const api = createDockerApi(ENDPOINT, { Docker, timeoutMs: 50 });
  await assert.rejects(api.listContainers(), { name: "DockerApiError", message: /did not answer list within 50 ms/ });
  assert.equal(calls[0].abortSignal.aborted, true);
});
