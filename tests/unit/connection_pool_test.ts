import assert from "node:assert/strict";
import { ConnectionPool } from "../../lib/docker_socket.ts";

/** A stand-in connection that only records being closed. */
function fakeConn(name: string) {
  const conn = {
    name,
    closed: false,
    close() {
      conn.closed = true;
    },
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
