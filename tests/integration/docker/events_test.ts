/** `openEventStream()` against a scripted engine on a unix socket: the recorded stream in small reads, and cleanup. */
import assert from "node:assert/strict";
import { eventsPath, openEventStream, parseContainerEvent } from "../../../lib/docker/events.ts";
import { decodeChunkedJson, recordedBody, RECORDING } from "../../support/events_recording.ts";

/** The decoded objects of the recording, as the engine sent them. */
const RAW_EVENTS: unknown[] = decodeChunkedJson([recordedBody()]).map((item) => (item as { value: unknown }).value);

Deno.test("openEventStream() replays the recorded response from a unix socket, in small reads", async () => {
  const dir = await Deno.makeTempDir({ prefix: "docker-events-test-" });
  const path = `${dir}/docker.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  const requests: string[] = [];
  const serving = (async () => {
    const conn = await listener.accept();
    const buffer = new Uint8Array(4096);
    const n = await conn.read(buffer);
    requests.push(new TextDecoder().decode(buffer.subarray(0, n ?? 0)));
    // Odd-sized writes, so pieces end inside chunk-size lines, JSON objects and multi-byte characters.
    for (let i = 0; i < RECORDING.length; i += 333) {
      await conn.write(RECORDING.subarray(i, i + 333));
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    conn.close();
  })();
  try {
    const stream = await openEventStream(
      { kind: "unix", path, url: `unix://${path}` },
      { apiVersion: "1.41", headTimeoutMs: 5000 },
    );
    const items = [];
    for await (const item of stream.items) items.push(item);
    stream.close();
    await serving;
    assert.equal(requests.length, 1);
    assert.ok(requests[0].startsWith(`GET ${eventsPath("1.41")} HTTP/1.1\r\n`), requests[0]);
    assert.deepEqual(items, RAW_EVENTS.map((raw) => ({ kind: "event", event: parseContainerEvent(raw) })));
  } finally {
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openEventStream() closed before its events are read leaves nothing on the caller's signal", async () => {
  // The tracker does this when the list fails right after the stream opened, every backoff, under a signal that
  // lasts the whole run: each listener left behind would keep its connection and 64 KiB read buffer alive.
  const dir = await Deno.makeTempDir({ prefix: "docker-events-test-" });
  const path = `${dir}/docker.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  const conns: Deno.Conn[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      await conn.read(new Uint8Array(4096));
      await conn.write(new TextEncoder().encode("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"));
    }
  })();
  const run = new AbortController();
  const attached = new Set<unknown>();
  const add = run.signal.addEventListener.bind(run.signal);
  const remove = run.signal.removeEventListener.bind(run.signal);
  run.signal.addEventListener = (type: string, listener: EventListenerOrEventListenerObject, options?: unknown) => {
    if (type === "abort") attached.add(listener);
    add(type, listener, options as AddEventListenerOptions);
  };
  run.signal.removeEventListener = (type: string, listener: EventListenerOrEventListenerObject, options?: unknown) => {
    if (type === "abort") attached.delete(listener);
    remove(type, listener, options as EventListenerOptions);
  };
  try {
    for (let i = 0; i < 3; i++) {
      const stream = await openEventStream(
        { kind: "unix", path, url: `unix://${path}` },
        { apiVersion: "1.41", headTimeoutMs: 5000, signal: run.signal },
      );
      assert.equal(attached.size, 1, "the open stream listens for the abort");
      stream.close();
      assert.equal(attached.size, 0, `closed stream ${i} left its abort listener behind`);
    }
  } finally {
    listener.close();
    for (const conn of conns) conn.close();
    await serving.catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
