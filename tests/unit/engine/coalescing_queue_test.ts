import assert from "node:assert/strict";
import { CoalescingQueue } from "../../../lib/engine/coalescing_queue.ts";

/**
 * Work whose runs finish only when the test says so. Records every start and end, the peak number of runs
 * in flight, and whether a key ever started while a run of the same key was still in flight.
 */
class ControlledWork {
  readonly log: string[] = [];
  readonly pending = new Map<string, Array<() => void>>();
  inFlight = 0;
  peak = 0;
  readonly running = new Set<string>();
  concurrentSelf = false;
  readonly fail = new Set<string>();

  readonly work = (key: string): Promise<void> => {
    if (this.running.has(key)) this.concurrentSelf = true;
    this.running.add(key);
    this.inFlight++;
    this.peak = Math.max(this.peak, this.inFlight);
    this.log.push(`start ${key}`);
    return new Promise<void>((resolve, reject) => {
      const finish = () => {
        this.running.delete(key);
        this.inFlight--;
        this.log.push(`end ${key}`);
        if (this.fail.has(key)) reject(new Error(`work for ${key} failed`));
        else resolve();
      };
      this.pending.set(key, [...(this.pending.get(key) ?? []), finish]);
    });
  };

  /** Finishes the oldest unfinished run of `key`, then lets the queue react. */
  async finish(key: string): Promise<void> {
    const finishers = this.pending.get(key);
    assert.ok(finishers && finishers.length > 0, `no run of ${key} in flight`);
    finishers.shift()!();
    await settle();
  }

  starts(key: string): number {
    return this.log.filter((line) => line === `start ${key}`).length;
  }
}

/** Lets every queued promise callback run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await new Promise((resolve) => setTimeout(resolve, 0));
}

/** Tracks whether a promise has resolved yet. */
function watch(promise: Promise<void>): { resolved: boolean } {
  const state = { resolved: false };
  promise.then(() => (state.resolved = true));
  return state;
}

Deno.test("CoalescingQueue never runs more than its concurrency at once", async () => {
  const work = new ControlledWork();
  const queue = new CoalescingQueue(3, work.work);
  const keys = Array.from({ length: 10 }, (_, i) => `k${i}`);
  const done = Promise.all(keys.map((key) => queue.schedule(key)));
  await settle();
  assert.equal(work.inFlight, 3);
  assert.equal(queue.size, 10);
  for (const key of keys) await work.finish(key);
  await done;
  assert.equal(work.peak, 3);
  assert.equal(queue.size, 0);
  assert.deepEqual(work.log.filter((line) => line.startsWith("start")), keys.map((key) => `start ${key}`));
});

Deno.test("CoalescingQueue runs a waiting key once however often it is scheduled", async () => {
  const work = new ControlledWork();
  const queue = new CoalescingQueue(1, work.work);
  const blocker = queue.schedule("blocker");
  const first = queue.schedule("a");
  const again = [queue.schedule("a"), queue.schedule("a"), queue.schedule("a")];
  for (const promise of again) assert.equal(promise, first, "a waiting key shares one promise");
  assert.equal(queue.size, 2);
  await work.finish("blocker");
  await blocker;
  await work.finish("a");
  await Promise.all([first, ...again]);
  assert.equal(work.starts("a"), 1);
  assert.deepEqual(work.log, ["start blocker", "end blocker", "start a", "end a"]);
});

Deno.test("CoalescingQueue runs a running key exactly once more after it, never alongside itself", async () => {
  const work = new ControlledWork();
  const queue = new CoalescingQueue(4, work.work);
  const first = watch(queue.schedule("a"));
  await settle();
  assert.equal(work.starts("a"), 1);
  const second = watch(queue.schedule("a"));
  const third = watch(queue.schedule("a"));
  await settle();
  assert.equal(work.starts("a"), 1, "no second run while the first is in flight, despite free capacity");
  assert.equal(queue.size, 2, "one run in flight, one waiting");

  await work.finish("a");
  assert.equal(first.resolved, true);
  assert.equal(second.resolved, false, "the run that was in flight started before the second call");
  assert.equal(work.starts("a"), 2);

  await work.finish("a");
  assert.equal(second.resolved, true);
  assert.equal(third.resolved, true);
  assert.equal(work.starts("a"), 2, "two calls during one run cost one more run");
  assert.equal(work.concurrentSelf, false);
  assert.equal(queue.size, 0);
});

Deno.test("CoalescingQueue resolves a schedule() only after a run that started after the call", async () => {
  const work = new ControlledWork();
  const queue = new CoalescingQueue(2, work.work);
  /** For each call: where the log stood when it was made, and when its promise resolved. */
  const calls: Array<{ calledAt: number; resolvedAt?: number }> = [];
  const schedule = () => {
    const call: { calledAt: number; resolvedAt?: number } = { calledAt: work.log.length };
    calls.push(call);
    queue.schedule("a").then(() => (call.resolvedAt = work.log.length));
  };
  schedule(); // starts run 1
  await settle();
  schedule(); // during run 1: needs run 2
  await work.finish("a"); // run 1 ends, run 2 starts
  schedule(); // during run 2: needs run 3
  schedule();
  await work.finish("a"); // run 2 ends, run 3 starts
  await work.finish("a"); // run 3 ends
  assert.deepEqual(work.log, ["start a", "end a", "start a", "end a", "start a", "end a"]);
  for (const [i, { calledAt, resolvedAt }] of calls.entries()) {
    assert.ok(resolvedAt !== undefined, `call ${i} never resolved`);
    // Between the call and its resolution a whole run took place: a start, then an end.
    const between = work.log.slice(calledAt, resolvedAt);
    const started = between.indexOf("start a");
    assert.ok(started >= 0 && between.indexOf("end a", started) >= 0, `call ${i} saw only ${between}`);
  }
});

Deno.test("CoalescingQueue keeps each key's runs in order while other keys use the free slots", async () => {
  const work = new ControlledWork();
  const queue = new CoalescingQueue(2, work.work);
  void queue.schedule("a");
  void queue.schedule("b");
  await settle();
  void queue.schedule("a"); // must wait for a's first run
  void queue.schedule("c"); // waits for a free slot
  await work.finish("b"); // frees a slot: c runs, a's second run still waits for a
  assert.deepEqual(work.log, ["start a", "start b", "end b", "start c"]);
  await work.finish("a"); // a's second run takes the slot a's first run frees
  assert.deepEqual(work.log.slice(4), ["end a", "start a"]);
  assert.equal(work.peak, 2);
  assert.equal(work.concurrentSelf, false);
});

Deno.test("CoalescingQueue goes on after a run fails, and still resolves the waiters", async () => {
  const work = new ControlledWork();
  work.fail.add("bad");
  const queue = new CoalescingQueue(1, work.work);
  const bad = queue.schedule("bad");
  const good = queue.schedule("good");
  await work.finish("bad");
  await bad;
  await work.finish("good");
  await good;
  assert.deepEqual(work.log, ["start bad", "end bad", "start good", "end good"]);
});

Deno.test("cancel() drops a waiting run and resolves its promise; a run in progress goes on", async () => {
  const ran: string[] = [];
  let release = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  const queue = new CoalescingQueue(1, async (key) => {
    ran.push(key);
    await gate;
  });
  const first = queue.schedule("a");
  const again = queue.schedule("a");
  const other = queue.schedule("b");
  assert.deepEqual([queue.isRunning("a"), queue.isRunning("b")], [true, false]);
  queue.cancel("a");
  queue.cancel("b");
  await other;
  await again;
  assert.equal(queue.size, 1, "only the run in progress is left");
  release();
  await first;
  assert.deepEqual(ran, ["a"], "neither cancelled run started");
  assert.equal(queue.size, 0);
});
