/**
 * The stats call, made on the socket without dockerode, against a scripted unix-socket server: the request it
 * sends and how it reads each kind of answer, including the faults a real engine cannot produce on demand.
 */
import assert from "node:assert/strict";
import { createDockerApi } from "../../lib/docker_api.ts";
import type { DockerodeConstructor } from "../../lib/dockerode_loader.ts";

const encoder = new TextEncoder();
const STATS = { id: "c0ffee", read: "2026-11-26T03:00:00Z", cpu_stats: { cpu_usage: { total_usage: 123 } } };

/** A dockerode stand-in whose version() answers API 1.41; stats must not go through it. */
class Docker {
  version() {
    return Promise.resolve({ ApiVersion: "1.41" });
  }
  getContainer(): never {
    throw new Error("stats went through dockerode");
  }
}

/**
 * Serves each connection on a unix socket by reading the request head, recording its first line, and writing
 * what `answer` returns, in the pieces it returns, then leaving the connection open (as dockerd does) unless
 * `answer` says to close it.
 */
async function withServer(
  answer: (requestLine: string) => { pieces: string[]; close?: boolean; pauseMs?: number },
  body: (api: ReturnType<typeof createDockerApi>, requests: string[]) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/docker.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  const requests: string[] = [];
  const open: Deno.Conn[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      open.push(conn);
      (async () => {
        const buffer = new Uint8Array(4096);
        let text = "";
        while (!text.includes("\r\n\r\n")) {
          const n = await conn.read(buffer);
          if (n === null) return;
          text += new TextDecoder().decode(buffer.subarray(0, n));
        }
        const requestLine = text.split("\r\n")[0];
        requests.push(requestLine);
        const { pieces, close, pauseMs } = answer(requestLine);
        for (const piece of pieces) {
          await conn.write(encoder.encode(piece));
          if (pauseMs) await new Promise((resolve) => setTimeout(resolve, pauseMs));
        }
        if (close) conn.close();
      })().catch(() => {});
    }
  })();
  const api = createDockerApi({ kind: "unix", path, url: `unix://${path}` }, {
    Docker: Docker as unknown as DockerodeConstructor,
    timeoutMs: 1000,
  });
  api.useApiVersion("1.41");
  try {
    await body(api, requests);
  } finally {
    listener.close();
    for (const conn of open) {
      try {
        conn.close();
      } catch { /* closed by the test */ }
    }
    await serving.catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

const ok = (json: string) =>
  `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\n\r\n`;

Deno.test("containerStats() asks the socket for one sample and reads the answer by its Content-Length", async () => {
  const json = JSON.stringify(STATS);
  // The connection stays open after the answer, as dockerd keeps it: the body must end at its length.
  await withServer(
    () => ({ pieces: [ok(json) + json.slice(0, 10), json.slice(10)], pauseMs: 5 }),
    async (api, requests) => {
      const started = performance.now();
      assert.deepEqual(await api.containerStats("c0ffee"), STATS);
      assert.ok(performance.now() - started < 900, "did not wait for the connection to close or the timeout");
      assert.deepEqual(requests, ["GET /v1.41/containers/c0ffee/stats?stream=false&one-shot=true HTTP/1.1"]);
    },
  );
});

Deno.test("containerStats() reads an answer larger than its read buffer whole", async () => {
  // Many block devices or networks make a larger answer; the call reads 8 KiB at a time.
  const large = {
    ...STATS,
    networks: Object.fromEntries(Array.from({ length: 1500 }, (_, i) => [`eth${i}`, { rx_bytes: i }])),
  };
  const json = JSON.stringify(large);
  assert.ok(json.length > 3 * 8192, `${json.length} bytes`);
  await withServer(() => ({ pieces: [ok(json) + json] }), async (api) => {
    assert.deepEqual(await api.containerStats("c0ffee"), large);
  });
});

Deno.test("containerStats() reads a chunked answer too", async () => {
  const json = JSON.stringify(STATS);
  const head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  const chunks = `${(20).toString(16)}\r\n${json.slice(0, 20)}\r\n${(json.length - 20).toString(16)}\r\n${
    json.slice(20)
  }\r\n0\r\n\r\n`;
  await withServer(() => ({ pieces: [head, chunks] }), async (api) => {
    assert.deepEqual(await api.containerStats("c0ffee"), STATS);
  });
});

Deno.test("containerStats() reads a 404 as a container that is gone, and keeps other statuses with the engine's message", async () => {
  const error = (status: string, message: string) => {
    const json = JSON.stringify({ message });
    return `HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\n\r\n${json}`;
  };
  await withServer((line) => ({
    pieces: [
      line.includes("/gone/") ? error("404 Not Found", "No such container: gone") : error("500 Server Error", "boom"),
    ],
  }), async (api) => {
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
  await withServer((line) => {
    if (line.includes("/cut/")) return { pieces: [ok(json) + json.slice(0, 30)], close: true };
    if (line.includes("/garbage/")) return { pieces: [ok("{nope") + "{nope"] };
    return { pieces: [ok("[1,2]") + "[1,2]"] };
  }, async (api) => {
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
  await withServer(() => ({ pieces: [ok("{}    ")] }), async (api) => {
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
