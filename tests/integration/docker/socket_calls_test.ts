/**
 * The inspect and stats calls, made on the socket without dockerode, against the scripted fake engine: the
 * request each sends and how it reads each kind of answer, including the faults a real engine cannot produce on
 * demand.
 */
import assert from "node:assert/strict";
import { createDockerApi, type DockerApi } from "../../../lib/docker/api.ts";
import type { DockerodeConstructor } from "../../../lib/docker/dockerode.ts";
import { withFakeApi } from "../../support/fake_api.ts";
import { type FakeAnswer, fakeContainer, type FakeEngine } from "../../support/fake_engine.ts";

/** A dockerode stand-in: neither call may go through it. */
class Docker {
  getContainer(): never {
    throw new Error("the call went through dockerode");
  }
}

/** One of the calls made on the socket, with an answer of its kind and a way to make that answer large. */
interface SocketCall {
  operation: "inspect" | "stats";
  call(api: DockerApi, id: string): Promise<unknown>;
  /** The request path for `id` (already encoded), under API 1.41. */
  path(id: string): string;
  answer: Record<string, unknown>;
  /** The answer about container `id`. */
  about(id: string): Record<string, unknown>;
  /** An answer of more than `bytes` bytes, as many labels or block devices make one. */
  large(bytes: number): Record<string, unknown>;
  /** How the call refuses a JSON array. */
  refusesArray: RegExp;
}

const INSPECT = fakeContainer("c0ffee", "web") as unknown as Record<string, unknown>;
const STATS = { id: "c0ffee", read: "2026-11-26T03:00:00Z", cpu_stats: { cpu_usage: { total_usage: 123 } } };

const CALLS: SocketCall[] = [
  {
    operation: "inspect",
    call: (api, id) => api.inspectContainer(id),
    path: (id) => `/v1.41/containers/${id}/json`,
    answer: INSPECT,
    about: (id) => fakeContainer(id, "web") as unknown as Record<string, unknown>,
    large: (bytes) => ({
      ...INSPECT,
      Config: { Image: "busybox:test", Labels: { "com.example.blob": "x".repeat(bytes) } },
    }),
    refusesArray: /answered inspect with something that is not a container: \[1,2\]/,
  },
  {
    operation: "stats",
    call: (api, id) => api.containerStats(id),
    path: (id) => `/v1.41/containers/${id}/stats?stream=false&one-shot=true`,
    answer: STATS,
    about: (id) => ({ ...STATS, id }),
    large: (bytes) => ({
      ...STATS,
      networks: Object.fromEntries(
        Array.from({ length: Math.ceil(bytes / 16) }, (_, i) => [`eth${i}`, { rx_bytes: i }]),
      ),
    }),
    refusesArray: /answered stats with something that is not a JSON object: \[1,2\]/,
  },
];

/** Runs `body` with an API on a fake engine that answers `operation`'s calls with `answers`, in order. */
function withEngine(
  operation: SocketCall["operation"],
  answers: FakeAnswer[],
  body: (api: DockerApi, engine: FakeEngine) => Promise<void>,
): Promise<void> {
  return withFakeApi(Docker as unknown as DockerodeConstructor, [[operation, answers]], body);
}

for (const { operation, call, path, answer, large, refusesArray } of CALLS) {
  Deno.test(`${operation}: asks the socket and reads the answer by its Content-Length`, async () => {
    // The connection stays open after the answer, as dockerd keeps it: the body must end at its length.
    await withEngine(operation, [{ status: 200, raw: JSON.stringify(answer), keepOpen: true }], async (api, engine) => {
      const started = performance.now();
      assert.deepEqual(await call(api, "c0ffee"), answer);
      assert.ok(performance.now() - started < 900, "did not wait for the connection to close or the timeout");
      assert.deepEqual(engine.requests, [{ method: "GET", path: path("c0ffee") }]);
    });
  });

  Deno.test(`${operation}: an id that is not hex is encoded into the path, so it cannot reach another endpoint`, async () => {
    await withEngine(operation, [{ status: 404, body: { message: "No such container" } }], async (api, engine) => {
      assert.equal(await call(api, "../../info?x=1"), undefined);
      assert.deepEqual(engine.requests.map((r) => r.path), [path("..%2F..%2Finfo%3Fx%3D1")]);
    });
  });

  Deno.test(`${operation}: an answer many times its read buffer is read whole`, async () => {
    const big = large(200 * 1024);
    const json = JSON.stringify(big);
    assert.ok(json.length > 200 * 1024, `${json.length} bytes`);
    await withEngine(operation, [{ status: 200, raw: json, keepOpen: true }], async (api) => {
      assert.deepEqual(await call(api, "c0ffee"), big);
    });
  });

  Deno.test(`${operation}: a chunked answer is read too`, async () => {
    // dockerd sends an answer over 2 KB chunked, as inspects usually are.
    const json = JSON.stringify(answer);
    await withEngine(operation, [{ status: 200, chunks: [json.slice(0, 20), json.slice(20)] }], async (api) => {
      assert.deepEqual(await call(api, "c0ffee"), answer);
    });
  });

  Deno.test(`${operation}: a 404 is a container that is gone; other statuses keep the engine's message`, async () => {
    const answers: FakeAnswer[] = [
      { status: 404, body: { message: "No such container: gone" } },
      { status: 500, body: { message: "boom" } },
    ];
    await withEngine(operation, answers, async (api) => {
      assert.equal(await call(api, "gone"), undefined);
      await assert.rejects(call(api, "c0ffee"), {
        name: "DockerApiError",
        operation,
        status: 500,
        message: new RegExp(`Docker answered 500 to GET ${path("c0ffee").split("?")[0]}: boom`),
      });
    });
  });

  Deno.test(`${operation}: an answer cut short, one that is not JSON, and one that is not an object are refused`, async () => {
    const json = JSON.stringify(answer);
    const answers: FakeAnswer[] = [
      { status: 200, raw: json, cutAfter: 30 },
      { status: 200, raw: "{nope", keepOpen: true },
      { status: 200, body: [1, 2] },
    ];
    await withEngine(operation, answers, async (api) => {
      await assert.rejects(call(api, "cut"), {
        name: "DockerApiError",
        operation,
        message: new RegExp(`closed the connection ${json.length - 30} bytes before the end of its answer`),
      });
      await assert.rejects(call(api, "garbage"), { operation, message: /not JSON: \{nope/ });
      await assert.rejects(call(api, "array"), { operation, message: refusesArray });
    });
  });

  Deno.test(`${operation}: the call gives up at the timeout when the engine sends the head and then nothing`, async () => {
    await withEngine(operation, [{ status: 200, raw: "{}    ", cutAfter: 0, keepOpen: true }], async (api) => {
      await assert.rejects(call(api, "c0ffee"), {
        name: "DockerApiError",
        operation,
        message: new RegExp(`did not answer ${operation} within 1000 ms`),
      });
    });
  });

  Deno.test(`${operation}: the call gives up at the timeout when the engine never answers at all`, async () => {
    await withEngine(operation, ["hang"], async (api) => {
      await assert.rejects(call(api, "c0ffee"), {
        name: "DockerApiError",
        operation,
        message: new RegExp(`did not answer ${operation} within 1000 ms`),
      });
    });
  });

  Deno.test(`${operation}: an interim 1xx answer before the real one is skipped`, async () => {
    const json = JSON.stringify(answer);
    const wire = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" +
      `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\n\r\n${json}`;
    await withEngine(operation, [{ wire, keepOpen: true }], async (api) => {
      assert.deepEqual(await call(api, "c0ffee"), answer);
    });
  });

  Deno.test(`${operation}: a 204 or 304 answer ends with its head, rather than at the timeout`, async () => {
    // Neither has a body (RFC 9112 §6.3), so the connection stays open after the head, with no length to say so.
    await withEngine(operation, [{ wire: "HTTP/1.1 204 No Content\r\n\r\n", keepOpen: true }], async (api) => {
      await assert.rejects(call(api, "c0ffee"), { name: "DockerApiError", operation, message: /not JSON/ });
    });
    await withEngine(operation, [{ wire: "HTTP/1.1 304 Not Modified\r\n\r\n", keepOpen: true }], async (api) => {
      await assert.rejects(call(api, "c0ffee"), {
        name: "DockerApiError",
        operation,
        status: 304,
        message: new RegExp(`^Docker answered 304 to GET ${path("c0ffee").split("?")[0]}$`),
      });
    });
  });

  Deno.test(`${operation}: a 101 Switching Protocols is refused at once, not read as an answer`, async () => {
    await withEngine(
      operation,
      [{ wire: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: tcp\r\n\r\n", keepOpen: true }],
      async (api) => {
        await assert.rejects(call(api, "c0ffee"), {
          name: "DockerApiError",
          operation,
          status: 101,
          message: /Docker answered 101/,
        });
      },
    );
  });

  Deno.test(`${operation}: a missing socket fails the call, named`, async () => {
    const api = createDockerApi({
      kind: "unix",
      path: "/nonexistent/docker.sock",
      url: "unix:///nonexistent/docker.sock",
    }, {
      Docker: Docker as unknown as DockerodeConstructor,
      timeoutMs: 1000,
    });
    await assert.rejects(call(api, "c0ffee"), { name: "DockerApiError", operation, message: /nonexistent/ });
  });
}

Deno.test("stats: an answer without an id, as some engines send, is taken as it is", async () => {
  const { id: _, ...withoutId } = STATS;
  await withEngine("stats", [{ status: 200, body: withoutId }], async (api) => {
    assert.deepEqual(await api.containerStats("c0ffee"), withoutId);
  });
});

Deno.test("stats: an answer over 1 MiB is refused once that much has come, not read to its end", async () => {
  const huge = new Uint8Array(8 * 1024 * 1024).fill(0x20);
  await withEngine("stats", [{ status: 200, raw: huge, keepOpen: true }], async (api) => {
    await assert.rejects(api.containerStats("c0ffee"), { operation: "stats", message: /more than 1048576 bytes/ });
  });
});

Deno.test("inspect: an answer over 128 MiB is refused once that much has come, not read to its end", async () => {
  // A valid 50 MB inspect is tracked (more_faults_test.ts); this is an engine or proxy that never stops sending.
  const huge = new Uint8Array(160 * 1024 * 1024).fill(0x20);
  await withEngine("inspect", [{ status: 200, raw: huge, keepOpen: true }], async (api) => {
    await assert.rejects(api.inspectContainer("c0ffee"), {
      operation: "inspect",
      message: /more than 134217728 bytes/,
    });
  });
});

for (const { operation, call } of CALLS) {
  Deno.test(`${operation}: a chunked answer cut before its last chunk is a fault of the connection, not an answer`, async () => {
    const wire =
      'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\n';
    await withEngine(operation, [{ wire }], async (api) => {
      await assert.rejects(call(api, "c0ffee"), (error: { operation: string; status?: number; message: string }) => {
        assert.equal(error.operation, operation);
        assert.equal(error.status, undefined, "no status: the engine did not finish answering");
        assert.match(error.message, /closed the connection before the last chunk of its answer/);
        return true;
      });
    });
  });

  Deno.test(`${operation}: broken chunk framing and a head that is not HTTP are faults named for the call`, async () => {
    const answers: FakeAnswer[] = [
      { wire: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n" },
      { wire: "SSH-2.0-OpenSSH_9.2\r\n\r\n" },
    ];
    await withEngine(operation, answers, async (api) => {
      await assert.rejects(call(api, "c0ffee"), { operation, message: /broke its chunked encoding: bad chunk size/ });
      await assert.rejects(call(api, "c0ffee"), { operation, message: /not an HTTP response: "SSH-2\.0/ });
    });
  });

  Deno.test(`${operation}: a call cancelled while it connects leaves no connection open`, async () => {
    // The engine would never answer: only the exporter closing the connection ends it.
    await withEngine(operation, ["hang"], async (_api, engine) => {
      const api = createDockerApi({ kind: "unix", path: engine.path, url: engine.url }, {
        Docker: Docker as unknown as DockerodeConstructor,
        timeoutMs: 60_000,
        signal: AbortSignal.abort(),
      });
      await assert.rejects(call(api, "c0ffee"), { operation, message: /cancelled/ });
      const deadline = performance.now() + 2000;
      const settled = () => engine.acceptedConnections > 0 && engine.openConnections === 0;
      while (!settled() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(engine.acceptedConnections, 1);
      assert.equal(engine.openConnections, 0, "the connection was closed");
      assert.deepEqual(engine.requests, [], "and nothing was sent on it");
    });
  });
}

for (const { operation, call, answer, about } of CALLS) {
  Deno.test(`${operation}: calls in a row share one keep-alive connection, as dockerd keeps it open`, async () => {
    const json = JSON.stringify(answer);
    const answers: FakeAnswer[] = [
      { status: 200, raw: json, keepOpen: true },
      { status: 200, chunks: [json.slice(0, 9), json.slice(9)] },
      { status: 404, raw: '{"message":"No such container"}', keepOpen: true },
      { status: 200, raw: json, keepOpen: true },
    ];
    await withEngine(operation, answers, async (api, engine) => {
      assert.deepEqual(await call(api, "c0ffee"), answer);
      assert.deepEqual(await call(api, "c0ffee"), answer);
      assert.equal(await call(api, "gone"), undefined);
      assert.deepEqual(await call(api, "c0ffee"), answer);
      assert.equal(engine.requests.length, 4);
      assert.equal(engine.acceptedConnections, 1, "one connection for all four");
    });
  });

  Deno.test(`${operation}: a connection the engine closes after its answer is not reused`, async () => {
    // `Connection: close`, as the fake engine's default answers say it.
    await withEngine(operation, [], async (api, engine) => {
      for (let i = 0; i < 3; i++) assert.equal(await call(api, "gone"), undefined);
      assert.equal(engine.acceptedConnections, 3);
    });
  });

  Deno.test(`${operation}: a kept connection the engine closed while idle is replaced, and the call succeeds`, async () => {
    const json = JSON.stringify(answer);
    await withEngine(operation, [{ status: 200, raw: json, keepOpen: true }], async (api, engine) => {
      assert.deepEqual(await call(api, "c0ffee"), answer);
      // The engine drops its idle connections (a proxy's idle timeout does): the kept one is closed at its end.
      engine.closeConnections();
      engine.overrides.set(operation, [{ status: 200, raw: json, keepOpen: true }]);
      assert.deepEqual(await call(api, "c0ffee"), answer);
      assert.equal(engine.acceptedConnections, 2);
    });
  });

  Deno.test(`${operation}: bytes after the end of an answer leave its connection unused`, async () => {
    const json = JSON.stringify(answer);
    const length = new TextEncoder().encode(json).length;
    const answers: FakeAnswer[] = [
      { wire: `HTTP/1.1 200 OK\r\nContent-Length: ${length}\r\n\r\n${json}HTTP/1.1 200 OK\r\n`, keepOpen: true },
      { wire: `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\nextra`, keepOpen: true },
      { status: 200, raw: json, keepOpen: true },
    ];
    await withEngine(operation, answers, async (api, engine) => {
      assert.deepEqual(await call(api, "c0ffee"), answer);
      await call(api, "c0ffee").catch(() => {}); // `{}` is not a container for inspect; either way it was read whole
      assert.deepEqual(await call(api, "c0ffee"), answer);
      assert.equal(engine.acceptedConnections, 3, "neither connection was reused after the bytes past its answer");
    });
  });

  Deno.test(`${operation}: a kept connection on which bytes arrive while it waits is closed, not read by the next call`, async () => {
    const json = JSON.stringify(answer);
    const answers: FakeAnswer[] = [{ status: 200, raw: json, keepOpen: true }, {
      status: 200,
      raw: json,
      keepOpen: true,
    }];
    await withEngine(operation, answers, async (api, engine) => {
      assert.deepEqual(await call(api, "c0ffee"), answer);
      // A whole answer no request asked for: a call that read it would take it for its own.
      const stray = JSON.stringify(about("bad"));
      await engine.sendToIdleConnections(`HTTP/1.1 200 OK\r\nContent-Length: ${stray.length}\r\n\r\n${stray}`);
      for (let i = 0; i < 500 && engine.openConnections > 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(engine.openConnections, 0, "the connection the bytes came on was closed while it waited");
      assert.deepEqual(await call(api, "c0ffee"), answer);
      assert.equal(engine.acceptedConnections, 2);
    });
  });

  Deno.test(`${operation}: an answer about another container is refused, and its connection not reused`, async () => {
    const json = JSON.stringify(answer);
    const answers: FakeAnswer[] = [
      { status: 200, raw: JSON.stringify(about("bad")), keepOpen: true },
      { status: 200, raw: json, keepOpen: true },
      { status: 200, raw: json, keepOpen: true },
    ];
    await withEngine(operation, answers, async (api, engine) => {
      await assert.rejects(call(api, "c0ffee"), {
        name: "DockerApiError",
        operation,
        status: 200,
        message: new RegExp(
          `^Docker answered ${operation} with another container's answer \\(asked for "c0ffee"\\): "bad`,
        ),
      });
      assert.deepEqual(await call(api, "c0ffee"), answer);
      assert.equal(engine.acceptedConnections, 2, "the connection that brought another container's answer was closed");
      // Asked by a prefix of its id, the engine answers with the full id: that is the container asked for.
      assert.deepEqual(await call(api, "c0f"), answer);
      assert.equal(engine.acceptedConnections, 2);
    });
  });

  Deno.test(`${operation}: an answer that fails to parse is still read to its end, and its connection reused`, async () => {
    const json = JSON.stringify(answer);
    const answers: FakeAnswer[] = [
      { status: 200, raw: json + "garbage", keepOpen: true },
      { status: 200, raw: json, keepOpen: true },
    ];
    await withEngine(operation, answers, async (api, engine) => {
      // The first answer's Content-Length (json + garbage) covers the garbage: read it as a body, it is not JSON.
      await assert.rejects(call(api, "c0ffee"), { operation, message: /not JSON/ });
      assert.deepEqual(await call(api, "c0ffee"), answer);
      assert.equal(engine.acceptedConnections, 1, "a body that failed to parse was still read to its end");
    });
  });
}
