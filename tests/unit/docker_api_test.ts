import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { inspect } from "node:util";
import { createDockerApi } from "../../lib/docker_api.ts";
import type { DockerodeConstructor } from "../../lib/dockerode_loader.ts";

const ENDPOINT = { kind: "unix", path: "/nonexistent.sock", url: "unix:///nonexistent.sock" } as const;

/** A dockerode stand-in that records the options of each `version` call and answers `answer`. */
function recordingDocker(answer: () => Promise<unknown>) {
  const calls: { abortSignal: AbortSignal }[] = [];
  class Docker {
    version(options: { abortSignal: AbortSignal }) {
      calls.push(options);
      return answer();
    }
  }
  return { Docker: Docker as unknown as DockerodeConstructor, calls };
}

Deno.test("the AbortSignal handed to dockerode prints as one word under docker-modem's util.inspect", async () => {
  const { Docker, calls } = recordingDocker(() => Promise.resolve({ ApiVersion: "1.41" }));
  const api = createDockerApi(ENDPOINT, { Docker, timeoutMs: 1000 });
  assert.deepEqual(await api.version(), { ApiVersion: "1.41" });
  // docker-modem logs every request with these options whether or not debugging is on.
  assert.equal(inspect(calls[0].abortSignal, { showHidden: true, depth: null }), "[AbortSignal]");
  assert.ok(calls[0].abortSignal instanceof AbortSignal);
});

Deno.test("the AbortSignal handed to dockerode still aborts the call when the timeout passes", async () => {
  const { Docker, calls } = recordingDocker(() => new Promise(() => {}));
  const api = createDockerApi(ENDPOINT, { Docker, timeoutMs: 50 });
  await assert.rejects(api.version(), { name: "DockerApiError", message: /did not answer version within 50 ms/ });
  assert.equal(calls[0].abortSignal.aborted, true);
});

/** A response stream as docker-modem hands it back, fed by the test. */
class FakeResponse extends EventEmitter {
  destroyed = false;
  destroy() {
    this.destroyed = true;
  }
  send(text: string) {
    this.emit("data", new TextEncoder().encode(text));
  }
  finish() {
    this.emit("end");
    this.emit("close");
  }
}

/** A dockerode stand-in whose modem answers each `dial` with a `FakeResponse` the test drives. */
function streamingDocker() {
  const dials: { options: Record<string, unknown>; response: FakeResponse }[] = [];
  let onDial = (_response: FakeResponse) => {};
  let failure: unknown;
  class Docker {
    modem = {
      dial(options: Record<string, unknown>, callback: (error: unknown, response: FakeResponse) => void) {
        const response = new FakeResponse();
        dials.push({ options, response });
        if (failure) return callback(failure, response);
        callback(null, response);
        onDial(response);
      },
    };
  }
  return {
    Docker: Docker as unknown as DockerodeConstructor,
    dials,
    whenDialled: (handler: (response: FakeResponse) => void) => (onDial = handler),
    /** The next dials fail with `error`, as docker-modem fails them. */
    failDials: (error: unknown) => (failure = error),
  };
}

Deno.test("the list is a streamed GET of every container, reduced to the four fields the exporter reads", async () => {
  const { Docker, dials, whenDialled } = streamingDocker();
  const api = createDockerApi(ENDPOINT, { Docker, timeoutMs: 1000 });
  whenDialled((response) => {
    const entry = {
      Id: "a".repeat(64),
      Names: ["/web"],
      State: "running",
      Status: "Up 3 hours (healthy)",
      Labels: { big: "x".repeat(1000) },
      NetworkSettings: { Networks: {} },
    };
    const text = JSON.stringify([entry, { Id: "b", Names: "not a list", State: 1 }]);
    response.send(text.slice(0, 20));
    response.send(text.slice(20));
    response.finish();
  });
  assert.deepEqual(await api.listContainers(), [
    { Id: "a".repeat(64), Names: ["/web"], State: "running", Status: "Up 3 hours (healthy)" },
    { Id: "b", Names: undefined, State: undefined, Status: undefined },
  ]);
  const { options } = dials[0];
  assert.equal(options.method, "GET");
  assert.equal(options.path, "/containers/json?");
  assert.deepEqual(options.options, { all: true });
  assert.equal(options.isStream, true);
  assert.ok(options.abortSignal instanceof AbortSignal, "the request itself can be aborted");
  // The status codes dockerode's own listContainers accepts and names.
  assert.deepEqual(options.statusCodes, { 200: true, 400: "bad parameter", 500: "server error" });
});

Deno.test("an error status for the list keeps the status and the engine's own message", async () => {
  const { Docker, failDials } = streamingDocker();
  const api = createDockerApi(ENDPOINT, { Docker, timeoutMs: 1000 });
  // What docker-modem makes of a streamed request answered 500 {"message":"list boom"}.
  failDials(Object.assign(new Error("(HTTP code 500) server error - list boom "), { statusCode: 500, json: null }));
  await assert.rejects(api.listContainers(), (error: Error & { status?: number }) => {
    assert.equal(error.name, "DockerApiError");
    assert.equal(error.message, "Docker answered 500 to list: list boom");
    assert.equal(error.status, 500);
    return true;
  });
});

Deno.test("a list that is not an array, or has an entry without an Id, is refused whole and read no further", async () => {
  const cases: [string, RegExp][] = [
    ["<html>proxy error</html>", /Docker answered list with something that is not a JSON array: "<html>proxy/],
    ['[{"Id":"a"},{"Names":["/ghost"]}', /Docker answered list with an entry without an Id: \{"Names":\["\/ghost"\]\}/],
    ['[{"Id":"a"} {"Id":"b"}', /Docker answered list with a broken JSON array \(unexpected "\{" after an element\)/],
  ];
  for (const [text, message] of cases) {
    const { Docker, dials, whenDialled } = streamingDocker();
    const api = createDockerApi(ENDPOINT, { Docker, timeoutMs: 1000 });
    whenDialled((response) => response.send(text));
    await assert.rejects(api.listContainers(), (error: Error & { status?: number }) => {
      assert.equal(error.name, "DockerApiError");
      assert.match(error.message, message);
      assert.equal(error.status, 200, "the engine answered");
      return true;
    });
    assert.equal(dials[0].response.destroyed, true, "the rest of the answer is not read");
  }
});

Deno.test("a list cut short, or whose connection closes, fails instead of returning part of the containers", async () => {
  for (const close of ["end", "close"] as const) {
    const { Docker, whenDialled } = streamingDocker();
    const api = createDockerApi(ENDPOINT, { Docker, timeoutMs: 1000 });
    whenDialled((response) => {
      response.send('[{"Id":"a"},');
      response.emit(close);
    });
    // A whole answer that is not a whole list is the engine answering wrongly; a connection cut is the engine going.
    const [message, status] = close === "end"
      ? [/a broken JSON array \(the text ended inside the array\)/, 200]
      : [/closed the connection/, undefined];
    await assert.rejects(api.listContainers(), (error: Error & { status?: number }) => {
      assert.equal(error.name, "DockerApiError");
      assert.match(error.message, message);
      assert.equal(error.status, status);
      return true;
    });
  }
});

Deno.test("a list that stops coming is aborted at the timeout, and its response destroyed", async () => {
  const { Docker, dials, whenDialled } = streamingDocker();
  const api = createDockerApi(ENDPOINT, { Docker, timeoutMs: 50 });
  whenDialled((response) => response.send('[{"Id":"a"},'));
  await assert.rejects(api.listContainers(), { name: "DockerApiError", message: /did not answer list within 50 ms/ });
  assert.equal(dials[0].response.destroyed, true);
});
