import assert from "node:assert/strict";
import { loadDockerode } from "../../../lib/docker/dockerode.ts";
import { operationOf, requestPath, SocketModem } from "../../../lib/docker/modem.ts";
import { FakeEngine } from "../../support/fake_engine.ts";

Deno.test("requestPath() builds the path as docker-modem does: version prefix, options as the query after a `?`", () => {
  assert.equal(requestPath({ path: "/version" }), "/version");
  assert.equal(requestPath({ path: "/info" }, "1.41"), "/v1.41/info");
  assert.equal(
    requestPath({ path: "/containers/json?", options: { all: true } }, "1.44"),
    "/v1.44/containers/json?all=true",
  );
  // Filters go as JSON; arrays as repeated keys; nothing for an abort signal, an undefined value or no options.
  assert.equal(
    requestPath({
      path: "/containers/json?",
      options: {
        filters: { label: ["a=b"] },
        ids: ["x", "y"],
        abortSignal: new AbortController().signal,
        limit: undefined,
      },
    }),
    `/containers/json?filters=${encodeURIComponent('{"label":["a=b"]}')}&ids=x&ids=y`,
  );
  assert.equal(requestPath({ path: "/containers/json?", options: {} }), "/containers/json");
  assert.equal(requestPath({ path: "/containers/json?" }), "/containers/json");
});

Deno.test("operationOf() names the calls the exporter makes through the modem", () => {
  assert.equal(operationOf("/version"), "version");
  assert.equal(operationOf("/info"), "info");
  assert.equal(operationOf("/containers/json?"), "list");
  assert.equal(operationOf("/containers/abc/json?"), "/containers/abc/json");
});

Deno.test("dockerode on a SocketModem refuses a mutating call before anything reaches the engine", async () => {
  const engine = await FakeEngine.start();
  try {
    const Docker = await loadDockerode();
    const modem = new SocketModem({ kind: "unix", path: engine.path, url: engine.url }, { apiVersion: "1.41" });
    const docker = new Docker({ modem } as ConstructorParameters<typeof Docker>[0]);
    await assert.rejects(docker.pruneContainers(), {
      name: "DockerApiError",
      message: "refused to send POST /v1.41/containers/prune: the exporter only reads from Docker",
    });
    await assert.rejects(docker.getContainer("abc").remove(), {
      message: /^refused to send DELETE \/v1\.41\/containers\/abc/,
    });
    assert.equal(engine.acceptedConnections, 0);
    // A GET through the same client goes out.
    assert.equal((await docker.info()).Name, "fake-host");
    assert.deepEqual(engine.requests, [{ method: "GET", path: "/v1.41/info" }]);
  } finally {
    engine.stop();
    await Deno.remove(engine.path.replace(/\/docker\.sock$/, ""), { recursive: true });
  }
});

Deno.test("a SocketModem answer that is not JSON, or is over the limit, fails as an answer of the engine", async () => {
  const engine = await FakeEngine.start();
  try {
    const endpoint = { kind: "unix", path: engine.path, url: engine.url } as const;
    engine.overrides.set("info", [{ status: 200, raw: "<html>proxy</html>" }, {
      status: 200,
      body: { Name: "x".repeat(200) },
    }]);
    const modem = new SocketModem(endpoint, { maxBytes: 100 });
    await assert.rejects(modem.request({ path: "/info", method: "GET" }), {
      name: "DockerApiError",
      message: "Docker answered info with something that is not JSON: <html>proxy</html>",
      status: 200,
    });
    await assert.rejects(modem.request({ path: "/info", method: "GET" }), {
      message: /^Docker answered info with more than 100 bytes/,
      status: 200,
    });
  } finally {
    engine.stop();
    await Deno.remove(engine.path.replace(/\/docker\.sock$/, ""), { recursive: true });
  }
});
