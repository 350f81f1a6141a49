/**
 * bcrypt on its worker thread: comparisons and hashes agree with bcryptjs on the main thread, calls answer in the
 * order asked, errors reach the caller, and the main thread's event loop keeps turning while a comparison runs.
 */
import assert from "node:assert/strict";
import bcrypt from "bcryptjs";
import { type BcryptWorker, startBcryptWorker } from "../../../lib/http/bcrypt_worker.ts";

/** Runs `test` with a new worker, and closes the worker after. */
async function withWorker(test: (worker: BcryptWorker) => Promise<void>): Promise<void> {
  const worker = startBcryptWorker();
  try {
    await test(worker);
  } finally {
    worker.close();
  }
}

Deno.test("startBcryptWorker() compares $2a$, $2b$ and $2y$ hashes as bcryptjs does", () =>
  withWorker(async (worker) => {
    const hash = bcrypt.hashSync("s3cret", 4);
    for (const variant of ["$2a$", "$2b$", "$2y$"]) {
      const same = variant + hash.slice(4);
      assert.equal(await worker.compare("s3cret", same), true, variant);
      assert.equal(await worker.compare("S3cret", same), false, variant);
      assert.equal(await worker.compare("", same), false, variant);
    }
  }));

Deno.test("startBcryptWorker() hashes with the cost asked and a fresh salt each time", () =>
  withWorker(async (worker) => {
    const [first, second] = await Promise.all([worker.hash("decoy", 5), worker.hash("decoy", 5)]);
    assert.equal(bcrypt.getRounds(first), 5);
    assert.notEqual(first, second);
    assert.equal(bcrypt.compareSync("decoy", first), true);
  }));

Deno.test("startBcryptWorker() answers concurrent calls each with its own result", () =>
  withWorker(async (worker) => {
    const hash = bcrypt.hashSync("right", 4);
    const passwords = Array.from({ length: 20 }, (_, i) => (i % 3 === 0 ? "right" : `wrong-${i}`));
    const results = await Promise.all(passwords.map((password) => worker.compare(password, hash)));
    assert.deepEqual(results, passwords.map((password) => password === "right"));
  }));

Deno.test("startBcryptWorker() rejects a call with a malformed hash, and goes on answering", () =>
  withWorker(async (worker) => {
    await assert.rejects(worker.compare("x", "$2b$03$" + "a".repeat(53)), /^Error: bcrypt: /);
    assert.equal(await worker.compare("x", bcrypt.hashSync("x", 4)), true);
  }));

Deno.test("startBcryptWorker() keeps the main thread free: timers fire while a comparison runs", () =>
  withWorker(async (worker) => {
    const hash = bcrypt.hashSync("x", 12);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      // bcryptjs's own asynchronous compare yields to timers only between long slices; on the worker, the main
      // thread is never busy, so the interval fires many times during one comparison at cost 12.
      await worker.compare("y", hash);
    } finally {
      clearInterval(timer);
    }
    assert.ok(ticks >= 10, `the interval fired ${ticks} times`);
  }));

Deno.test("startBcryptWorker().close() rejects calls made after it", async () => {
  const worker = startBcryptWorker();
  worker.close();
  await assert.rejects(worker.compare("x", "y"), /the bcrypt worker was closed/);
});
