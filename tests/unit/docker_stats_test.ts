/**
 * The stats call, made on the socket without dockerode, against the scripted fake engine: the request it sends
 * and how it reads each kind of answer, including the faults a real engine cannot produce on demand.
 */
import assert from "node:assert/strict";
import { createDockerApi } from "../../lib/docker_api.ts";
import type { DockerodeConstructor } from "../../lib/dockerode_loader.ts";
import { type FakeAnswer, FakeEngine } from "../support/fake_engine.ts";

const STATS = { id: "c0ffee", read: "2026-11-26T03:00:00Z", cpu_stats: { cpu_usage: { total_usage: 123 } } };

/** A dockerode stand-in: stats must not go through it. */
class Docker {
  getContainer(): never {
    throw new Error("stats went through dockerode");
  }
}

/** Runs `body` with an API on a fake engine that answers the stats calls with `answers`, in order. */
async function withEngine(
  answers: FakeAnswer[],
  body: (api: ReturnType<typeof createDockerApi>, engine: FakeEngine) => Promise<void>,
): Promise<void> {
  const engine = await FakeEngine.start();
  engine.overrides.set("stats", answers);
  const api = createDockerApi({ kind: "unix", path: engine.path, url: engine.url }, {
    Docker: Docker as unknown as DockerodeConstructor,
    timeoutMs: 1000,
  });
  api.useApiVersion("1.41");
  try {
    await body(api, engine);
  } finally {
    engine.stop();
    await Deno.remove(engine.path.replace(/\/docker\.sock$/, ""), { recursive: true });
  }
}

Deno.test("containerStats() asks the socket for one sample and reads the answer by its Content-Length", async () => {
  // The connection stays open after the answer, as dockerd keeps it: the body must end at its length.
  await withEngine([{ status: 200, raw: JSON.stringify(STATS), keepOpen: true }], async (api, engine) => {
    const started = performance.now();
    assert.deepEqual(await api.containerStats("c0ffee"), STATS);
    assert.ok(performance.now() - started < 900, "did not wait for the connection to close or the timeout");
    assert.deepEqual(engine.requests, [{
      method: "GET",
      path: "/v1.41/containers/c0ffee/stats?stream=false&one-shot=true",
    }]);
  });
});

Deno.test("containerStats() reads an answer larger than its read buffer whole", async () => {
  // Many block devices or networks make a larger answer; the call reads 8 KiB at a time.
  const large = {
    ...STATS,
    networks: Object.fromEntries(Array.from({ length: 1500 }, (_, i) => [`eth${i}`, { rx_bytes: i }])),
  };
  const json = JSON.stringify(large);
  assert.ok(json.length > 3 * 8192, `${json.length} bytes`);
  await withEngine([{ status: 200, raw: json, keepOpen: true }], async (api) => {
    assert.deepEqual(await api.containerStats("c0ffee"), large);
  });
});

Deno.test("containerStats() reads a chunked answer too", async () => {
  const json = JSON.stringify(STATS);
  await withEngine([{ status: 200, chunks: [json.slice(0, 20), json.slice(20)] }], async (api) => {
    assert.deepEqual(await api.containerStats("c0ffee"), STATS);
  });
});

Deno.test("containerStats() reads a 404 as a container that is gone, and keeps other statuses with the engine's message", async () => {
  const answers: FakeAnswer[] = [
    { status: 404, body: { message: "No such container: gone" } },
    { status: 500, body: { message: "boom" } },
  ];
  await withEngine(answers, async (api) => {
    assert.equal(await api.containerStats("gone"), undefined);
    await assert.rejects(api.containerStats("c0ffee"), {
      name: "DockerApiError",
      operation: "stats",
      status: 500,
      message: /Docker answered 500 to GET \/v1\.41\/containers\/c0ffee\/stats: boom/,
    });
  });
});

Deno.test("containerStats() refuses an answer cut short, one that is not JSON, and one that is not an object", async () => {
  const json = JSON.stringify(STATS);
  const answers: FakeAnswer[] = [
    { status: 200, raw: json, cutAfter: 30 },
    { status: 200, raw: "{nope", keepOpen: true },
    { status: 200, body: [1, 2] },
  ];
  await withEngine(answers, async (api) => {
    await assert.rejects(api.containerStats("cut"), {
      name: "DockerApiError",
      operation: "stats",
      message: new RegExp(`closed the connection ${json.length - 30} bytes before the end of its answer`),
    });
    await assert.rejects(api.containerStats("garbage"), { operation: "stats", message: /not JSON: \{nope/ });
    await assert.rejects(api.containerStats("array"), { operation: "stats", message: /not a JSON object: \[1,2\]/ });
  });
});

Deno.test("containerStats() gives up at the timeout when the engine sends the head and then nothing", async () => {
  await withEngine([{ status: 200, raw: "{}    ", cutAfter: 0, keepOpen: true }], async (api) => {
    await assert.rejects(api.containerStats("c0ffee"), {
      name: "DockerApiError",
      operation: "stats",
      message: /did not answer stats within 1000 ms/,
    });
  });
});

Deno.test("containerStats() names the stats call when the socket is missing", async () => {
  const api = createDockerApi({
    kind: "unix",
    path: "/nonexistent/docker.sock",
    url: "unix:///nonexistent/docker.sock",
  }, {
    Docker: Docker as unknown as DockerodeConstructor,
    timeoutMs: 1000,
  });
  await assert.rejects(api.containerStats("c0ffee"), { name: "DockerApiError", operation: "stats" });
});
