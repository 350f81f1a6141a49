import assert from "node:assert/strict";
import { createDockerApi, type DockerApi } from "../../../lib/docker/api.ts";
import { withFakeApi } from "../../support/fake_api.ts";
import { loadDockerode } from "../../../lib/docker/dockerode.ts";
import { type FakeAnswer, FakeEngine } from "../../support/fake_engine.ts";

const Docker = await loadDockerode();

/** Runs `body` with an API on a fake engine whose next list calls answer `listAnswers`, in order. */
function withEngine(
  listAnswers: FakeAnswer[],
  body: (api: DockerApi, engine: FakeEngine) => Promise<void>,
  timeoutMs = 1000,
): Promise<void> {
  return withFakeApi(Docker, [["list", listAnswers]], body, timeoutMs);
}

Deno.test("version() asks /version unversioned even after the API version is pinned, so a reconnect negotiates again", async () => {
  const engine = await FakeEngine.start();
  const api = createDockerApi({ kind: "unix", path: engine.path, url: engine.url }, { Docker, timeoutMs: 1000 });
  try {
    assert.equal((await api.version()).ApiVersion, "1.41");
    api.useApiVersion("1.41");
    assert.equal((await api.info()).Name, "fake-host");
    // A reconnect negotiates again, unversioned: an engine upgraded in place may refuse the old version.
    engine.apiVersion = "1.44";
    assert.equal((await api.version()).ApiVersion, "1.44");
    assert.deepEqual(engine.requests.map(({ method, path }) => `${method} ${path}`), [
      "GET /version",
      "GET /v1.41/info",
      "GET /version",
    ]);
  } finally {
    api.close();
    engine.stop();
    await Deno.remove(engine.path.replace(/\/docker\.sock$/, ""), { recursive: true });
  }
});

Deno.test("the list is a streamed GET of every container, reduced to the fields the exporter reads", async () => {
  const entry = {
    Id: "a".repeat(64),
    Names: ["/web"],
    State: "running",
    Status: "Up 3 hours (healthy)",
    Labels: { big: "x".repeat(1000) },
    NetworkSettings: { Networks: {} },
  };
  const text = JSON.stringify([entry, { Id: "b", Names: "not a list", State: 1 }]);
  // Chunk boundaries inside an entry and inside a string.
  await withEngine(
    [{ status: 200, chunks: [text.slice(0, 20), text.slice(20, 500), text.slice(500)] }],
    async (api, engine) => {
      assert.deepEqual(await api.listContainers(), [
        { Id: "a".repeat(64), Names: ["/web"], State: "running", Status: "Up 3 hours (healthy)", Labels: {} },
        { Id: "b", Names: undefined, State: undefined, Status: undefined, Labels: {} },
      ]);
      assert.deepEqual(engine.requests, [{ method: "GET", path: "/v1.41/containers/json?all=true" }]);
    },
  );
});

Deno.test("a list entry keeps the string labels of the keys the API was asked to keep, and no other", async () => {
  const engine = await FakeEngine.start();
  const entries: unknown[] = [
    { Id: "a", Names: ["/a"], Labels: { team: "x", "docker-exporter.ignore": "true", big: "y".repeat(1000) } },
    { Id: "b", Names: ["/b"], Labels: { team: 7, constructor: "z" } },
    { Id: "c", Names: ["/c"], Labels: null },
  ];
  engine.overrides.set("list", [{ status: 200, body: entries }]);
  const api = createDockerApi({ kind: "unix", path: engine.path, url: engine.url }, {
    Docker,
    timeoutMs: 1000,
    listLabelKeys: new Set(["team", "docker-exporter.ignore", "constructor", "toString"]),
  });
  try {
    api.useApiVersion("1.41");
    assert.deepEqual((await api.listContainers()).map(({ Id, Labels }) => [Id, Labels]), [
      ["a", { team: "x", "docker-exporter.ignore": "true" }],
      ["b", { constructor: "z" }],
      ["c", {}],
    ]);
  } finally {
    api.close();
    engine.stop();
    await Deno.remove(engine.path.replace(/\/docker\.sock$/, ""), { recursive: true });
  }
});

Deno.test("an error status for the list keeps the status and the engine's own message", async () => {
  await withEngine([{ status: 500, body: { message: "list boom" } }], async (api) => {
    await assert.rejects(api.listContainers(), (error: Error & { status?: number; operation?: string }) => {
      assert.equal(error.name, "DockerApiError");
      assert.equal(error.message, "Docker answered 500 to GET /v1.41/containers/json: list boom");
      assert.equal(error.status, 500);
      assert.equal(error.operation, "list");
      return true;
    });
  });
});

Deno.test("a list that is not an array, or has an entry without an Id, is refused whole", async () => {
  const cases: [string, RegExp][] = [
    ["<html>proxy error</html>", /Docker answered list with something that is not a JSON array: "<html>proxy/],
    [
      '[{"Id":"a"},{"Names":["/ghost"]}]',
      /Docker answered list with an entry without an Id: \{"Names":\["\/ghost"\]\}/,
    ],
    ['[{"Id":"a"} {"Id":"b"}]', /Docker answered list with a broken JSON array \(unexpected "\{" after an element\)/],
  ];
  for (const [raw, message] of cases) {
    await withEngine([{ status: 200, raw }], async (api) => {
      await assert.rejects(api.listContainers(), (error: Error & { status?: number }) => {
        assert.equal(error.name, "DockerApiError");
        assert.match(error.message, message);
        assert.equal(error.status, 200, "the engine answered");
        return true;
      });
    });
  }
});

Deno.test("a list cut short, or whose connection closes, fails instead of returning part of the containers", async () => {
  // A whole answer that is not a whole list is the engine answering wrongly; a connection cut is the engine going.
  await withEngine([{ status: 200, raw: '[{"Id":"a"},' }], async (api) => {
    await assert.rejects(api.listContainers(), (error: Error & { status?: number }) => {
      assert.match(error.message, /a broken JSON array \(the text ended inside the array\)/);
      assert.equal(error.status, 200);
      return true;
    });
  });
  await withEngine([{ status: 200, raw: '[{"Id":"a"},{"Id":"b"}]', cutAfter: 12 }], async (api) => {
    await assert.rejects(api.listContainers(), (error: Error & { status?: number }) => {
      assert.equal(error.name, "DockerApiError");
      assert.equal(error.message, "Docker closed the connection 11 bytes before the end of its answer");
      assert.equal(error.status, undefined);
      return true;
    });
  });
});

Deno.test("a list that never ends is refused once it has more than 100,000 entries, and its connection closed", async () => {
  const endless: FakeAnswer = { status: 200, endless: { start: "[", repeat: '{"Id":"a"},' } };
  // A generous timeout: the list must be refused for its length, long before it.
  await withEngine([endless], async (api, engine) => {
    await assert.rejects(api.listContainers(), (error: Error & { status?: number; operation?: string }) => {
      assert.equal(error.name, "DockerApiError");
      assert.equal(error.operation, "list");
      assert.match(error.message, /^Docker answered list with more than 100000 entries: "\[\{\\"Id\\":\\"a\\"\},/);
      assert.equal(error.status, 200, "the engine answered");
      return true;
    });
    for (let i = 0; i < 500 && engine.openConnections > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(engine.openConnections, 0);
  }, 60_000);
});

Deno.test("a list that never ends is refused once it has sent more than 256 MiB, however few its entries", async () => {
  // Entries of 64 KiB: 256 MiB of them is 4,096 entries, far below the entry limit.
  const entry = JSON.stringify({ Id: "a", Labels: { blob: "x".repeat(64 * 1024) } }) + ",";
  await withEngine([{ status: 200, endless: { start: "[", repeat: entry } }], async (api) => {
    await assert.rejects(api.listContainers(), (error: Error & { status?: number; operation?: string }) => {
      assert.equal(error.operation, "list");
      assert.match(error.message, /^Docker answered list with more than 268435456 bytes: /);
      assert.equal(error.status, 200, "the engine answered");
      return true;
    });
  }, 60_000);
});

Deno.test("a list that stops coming is aborted at the timeout, and its connection closed", async () => {
  const wire = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
    'c\r\n[{"Id":"a"},\r\n';
  await withEngine([{ wire, keepOpen: true }], async (api, engine) => {
    await assert.rejects(api.listContainers(), { name: "DockerApiError", message: /did not answer list within 50 ms/ });
    for (let i = 0; i < 100 && engine.openConnections > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(engine.openConnections, 0);
  }, 50);
});

Deno.test("a version call that gets no answer fails at the timeout", async () => {
  await withEngine([], async (api, engine) => {
    engine.overrides.set("version", ["hang"]);
    await assert.rejects(api.version(), { name: "DockerApiError", message: /did not answer version within 50 ms/ });
  }, 50);
});

Deno.test("diskUsage() streams /system/df under the pinned version, and asks API 1.52 for its items", async () => {
  const answer = await Deno.readTextFile(new URL("../../testdata/docker_system_df.json", import.meta.url));
  const items = JSON.stringify({ ImageUsage: { Items: [{ Id: "a", RepoTags: ["x:1"], Size: 7 }] } });
  await withEngine([], async (api, engine) => {
    engine.overrides.set("df", [{ status: 200, raw: answer }, { status: 200, raw: items }]);
    const usage = await api.diskUsage();
    assert.deepEqual(usage.volumes.map((v) => v.name), ["itest-dfrec-73592edd-vol"]);
    api.useApiVersion("1.52");
    assert.deepEqual((await api.diskUsage()).images, [{ dangling: false, sizeBytes: 7 }]);
    assert.deepEqual(engine.requests.map(({ path }) => path), ["/v1.41/system/df", "/v1.52/system/df?verbose=1"]);
  });
});

Deno.test("diskUsage() has a timeout of its own, longer than the other calls'", async () => {
  const engine = await FakeEngine.start();
  const api = createDockerApi({ kind: "unix", path: engine.path, url: engine.url }, {
    Docker,
    timeoutMs: 30,
    diskUsageTimeoutMs: 300,
  });
  try {
    // A head, then nothing: aborted at its own timeout, not at the other calls'.
    engine.overrides.set("df", [{
      wire: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
      keepOpen: true,
    }]);
    await assert.rejects(api.diskUsage(), { name: "DockerApiError", message: /did not answer df within 300 ms/ });
    engine.overrides.set("version", ["hang"]);
    await assert.rejects(api.version(), { message: /did not answer version within 30 ms/ });
  } finally {
    api.close();
    engine.stop();
    await Deno.remove(engine.path.replace(/\/docker\.sock$/, ""), { recursive: true });
  }
});

Deno.test("diskUsage() failures are named df, with the engine's status", async () => {
  await withEngine([], async (api, engine) => {
    engine.overrides.set("df", [{ status: 500, body: { message: "a disk usage operation is already running" } }]);
    await assert.rejects(api.diskUsage(), (error: Error & { operation?: string; status?: number }) => {
      assert.equal(error.operation, "df");
      assert.equal(error.status, 500);
      assert.match(error.message, /a disk usage operation is already running/);
      return true;
    });
  });
});
