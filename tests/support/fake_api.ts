/** A `DockerApi` on a fresh fake engine, for tests of the calls the exporter makes. */
import { createDockerApi, type DockerApi } from "../../lib/docker/api.ts";
import type { DockerodeConstructor } from "../../lib/docker/dockerode.ts";
import { type FakeAnswer, FakeEngine } from "./fake_engine.ts";

/** The operations whose answers a fake engine can be told to replace. */
export type FakeOperation = Parameters<FakeEngine["overrides"]["set"]>[0];

/**
 * Runs `body` with an API pinned to API 1.41 on a fresh fake engine that answers `overrides` first (each operation's
 * answers in order), then closes the API and removes the engine and its socket's directory.
 */
export async function withFakeApi(
  Docker: DockerodeConstructor,
  overrides: [FakeOperation, FakeAnswer[]][],
  body: (api: DockerApi, engine: FakeEngine) => Promise<void>,
  timeoutMs = 1000,
): Promise<void> {
  const engine = await FakeEngine.start();
  for (const [operation, answers] of overrides) engine.overrides.set(operation, answers);
  const api = createDockerApi({ kind: "unix", path: engine.path, url: engine.url }, { Docker, timeoutMs });
  api.useApiVersion("1.41");
  try {
    await body(api, engine);
  } finally {
    api.close();
    engine.stop();
    await Deno.remove(engine.path.replace(/\/docker\.sock$/, ""), { recursive: true });
  }
}
