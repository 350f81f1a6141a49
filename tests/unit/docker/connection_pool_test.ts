import assert from "node:assert/strict";
import { ConnectionPool, openStream } from "../../../lib/docker/socket.ts";

/** A stand-in connection on which nothing arrives, that only records being closed. */
function fakeConn(name: string) {
  const conn = {
    name,
    closed: false,
    close() {
      conn.closed = true;
    },
    read: () => new Promise<number | null>(() => {}),
    ref() {},
    unref() {},
  };
  return conn;
}
type FakeConn = ReturnType<typeof fakeConn>;
const asConn = (conn: FakeConn) => conn as unknown as Deno.Conn;

Deno.test("ConnectionPool hands back the most recently used connection, and closes what it cannot keep", () => {
  const pool = new ConnectionPool({ maxIdle: 2, idleMs: 1000, now: () => 0 });
  const [a, b, c] = ["a", "b", "c"].map(fakeConn);
  pool.put(asConn(a));
  pool.put(asConn(b));
  pool.put(asConn(c));
  assert.equal(c.closed, true, "over maxIdle: closed");
  assert.equal(pool.idle, 2);
  assert.equal(pool.take(), asConn(b));
  assert.equal(pool.take(), asConn(a));
  assert.equal(pool.take(), undefined);
  assert.ok(!a.closed && !b.closed);
});

Deno.test("ConnectionPool closes a connection idle for longer than idleMs instead of handing it back", () => {
  let now = 0;
  const pool = new ConnectionPool({ idleMs: 1000, now: () => now });
  const [old, fresh] = ["old", "fresh"].map(fakeConn);
  pool.put(asConn(old));
  now = 900;
  pool.put(asConn(fresh));
  now = 1500;
  assert.equal(pool.take(), asConn(fresh), "600 ms idle: reused");
  assert.equal(pool.take(), undefined, "1,500 ms idle: not reused");
  assert.equal(old.closed, true);
});

Deno.test("ConnectionPool closes a connection idle too long by itself, with no call to take or put one", async () => {
  // A quiet exporter (resource metrics off, no events) makes no call that would sweep, for hours.
  const pool = new ConnectionPool({ idleMs: 50 });
  const [quiet, taken] = ["quiet", "taken"].map(fakeConn);
  pool.put(asConn(taken));
  pool.put(asConn(quiet));
  assert.equal(pool.take(), asConn(quiet), "the most recent is taken");
  pool.put(asConn(quiet));
  const waited = Date.now();
  while ((!quiet.closed || !taken.closed) && Date.now() - waited < 5000) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.deepEqual([quiet.closed, taken.closed, pool.idle], [true, true, 0], "both closed once idle for 50 ms");
  pool.close();
});

Deno.test("ConnectionPool.close() closes the idle connections and every one put back later", () => {
  const pool = new ConnectionPool();
  const [idle, late] = ["idle", "late"].map(fakeConn);
  pool.put(asConn(idle));
  pool.close();
  assert.equal(idle.closed, true);
  pool.put(asConn(late));
  assert.equal(late.closed, true, "a call that ended after close() does not keep its connection");
  assert.equal(pool.take(), undefined);
});

Deno.test("ConnectionPool closes connections idle too long even while newer ones are in use", () => {
  let now = 0;
  const pool = new ConnectionPool({ idleMs: 1000, now: () => now });
  const conns = ["a", "b", "c"].map(fakeConn);
  for (const conn of conns) pool.put(asConn(conn));
  now = 500;
  const fresh = fakeConn("fresh");
  pool.put(asConn(fresh));
  now = 1200;
  assert.equal(pool.take(), asConn(fresh), "the newest is reused");
  assert.deepEqual(conns.map((c) => c.closed), [true, true, true], "the three older ones were closed on the way");
  assert.equal(pool.idle, 0);
});

/** A stand-in connection whose pending read the test ends: with bytes, with the connection's end, or failing. */
function watchedConn() {
  let settle: { resolve(n: number | null): void; reject(error: Error): void } | undefined;
  const conn = {
    closed: false,
    refs: [] as string[],
    reads: 0,
    close() {
      conn.closed = true;
    },
    read(buffer: Uint8Array) {
      conn.reads++;
      return new Promise<number | null>((resolve, reject) => {
        settle = {
          resolve(n) {
            buffer.fill(0x78, 0, n ?? 0);
            resolve(n);
          },
          reject,
        };
      });
    },
    ref: () => conn.refs.push("ref"),
    unref: () => conn.refs.push("unref"),
    /** Ends the read the pool keeps pending. */
    arrive: (n: number | null) => settle!.resolve(n),
    fail: (error: Error) => settle!.reject(error),
  };
  return conn;
}

const settled = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("ConnectionPool closes an idle connection on which bytes arrive, and never hands it out", async () => {
  // Bytes no request asked for: the next call on the connection would read them as the start of its answer.
  const pool = new ConnectionPool();
  const [stray, quiet] = [watchedConn(), watchedConn()];
  pool.put(stray as unknown as Deno.Conn);
  pool.put(quiet as unknown as Deno.Conn);
  assert.deepEqual([stray.reads, quiet.reads], [1, 1], "a read is kept pending on each idle connection");
  stray.arrive(5);
  await settled();
  assert.equal(stray.closed, true);
  assert.equal(pool.idle, 1);
  assert.equal(pool.take(), quiet as unknown as Deno.Conn, "the other connection is still handed out");
  assert.equal(pool.take(), undefined);
  assert.equal(quiet.closed, false);
  pool.close();
});

Deno.test("ConnectionPool closes an idle connection the engine hangs up or that fails, at once", async () => {
  const pool = new ConnectionPool();
  const [ended, failed] = [watchedConn(), watchedConn()];
  pool.put(ended as unknown as Deno.Conn);
  pool.put(failed as unknown as Deno.Conn);
  ended.arrive(null);
  failed.fail(new Error("connection reset by peer"));
  await settled();
  assert.deepEqual([ended.closed, failed.closed, pool.idle], [true, true, 0]);
  assert.equal(pool.take(), undefined);
});

Deno.test("ConnectionPool keeps a waiting connection from holding Deno open, and a taken one holds it again", () => {
  const pool = new ConnectionPool();
  const conn = watchedConn();
  pool.put(conn as unknown as Deno.Conn);
  assert.deepEqual(conn.refs, ["unref"]);
  assert.equal(pool.take(), conn as unknown as Deno.Conn);
  assert.deepEqual(conn.refs, ["unref", "ref"]);
  // Put back, it keeps the read it had pending rather than starting another.
  pool.put(conn as unknown as Deno.Conn);
  assert.equal(conn.reads, 1);
  pool.close();
});

Deno.test("a call on a connection from the pool takes over its pending read: an answer that comes just then is read whole", async () => {
  const body = '{"Id":"c0ffee"}';
  const conn = answeringConn(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  const pool = new ConnectionPool();
  const endpoint = { kind: "unix", path: "/nonexistent/docker.sock", url: "unix:///nonexistent/docker.sock" } as const;
  pool.put(conn as unknown as Deno.Conn);
  for (let i = 0; i < 3; i++) {
    const response = await openStream(endpoint, "/containers/c0ffee/json", { operation: "inspect", pool });
    let text = "";
    for await (const piece of response.body) text += new TextDecoder().decode(piece);
    assert.equal(text, body);
    assert.equal(pool.idle, 1, "back in the pool, waiting for the next call");
  }
  pool.close();
});

/**
 * A kept-alive connection that answers every request with `answer`, and records the memory each read was made
 * into.
 */
function answeringConn(answer: string) {
  const encoded = new TextEncoder().encode(answer);
  let unread = new Uint8Array(0);
  /** Set while a read waits for the next answer, as on a real connection. */
  let wake: (() => void) | undefined;
  const readInto: ArrayBufferLike[] = [];
  const conn = {
    readInto,
    write(request: Uint8Array) {
      unread = encoded;
      wake?.();
      return Promise.resolve(request.length);
    },
    async read(buffer: Uint8Array) {
      readInto.push(buffer.buffer);
      while (unread.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      const n = Math.min(buffer.length, unread.length);
      buffer.set(unread.subarray(0, n));
      unread = unread.subarray(n);
      return n;
    },
    close() {},
    ref() {},
    unref() {},
  };
  return conn;
}

Deno.test("calls on a kept connection read into one buffer, sized by the largest call, not one buffer each", async () => {
  const body = JSON.stringify({ id: "c0ffee", pids_stats: { current: 1 } });
  const conn = answeringConn(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  const pool = new ConnectionPool();
  const endpoint = { kind: "unix", path: "/nonexistent/docker.sock", url: "unix:///nonexistent/docker.sock" } as const;
  const call = async (readBytes: number) => {
    pool.put(conn as unknown as Deno.Conn);
    const response = await openStream(endpoint, "/containers/c0ffee/stats", { operation: "stats", readBytes, pool });
    let text = "";
    for await (const piece of response.body) text += new TextDecoder().decode(piece);
    assert.equal(text, body, "the answer is read whole, whatever the buffer");
    assert.equal(pool.take(), conn as unknown as Deno.Conn, "read to its end, the connection was kept");
    const reads = conn.readInto.splice(0);
    assert.equal(new Set(reads).size, 1, "one buffer for every read of the call");
    return reads[0];
  };
  // A connection waiting in the pool keeps a read pending, which the next call takes over: the one made before the
  // first call is not one of its reads.
  pool.put(conn as unknown as Deno.Conn);
  assert.equal(pool.take(), conn as unknown as Deno.Conn);
  conn.readInto.splice(0);
  const first = await call(8);
  assert.equal(await call(8), first, "the next call on the connection reads into the same buffer");
  const larger = await call(64);
  assert.notEqual(larger, first, "a call that reads more at a time gets a larger buffer");
  assert.equal(await call(8), larger, "which later, smaller calls reuse");
});
