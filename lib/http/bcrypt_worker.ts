/**
 * bcrypt on a thread of its own: a `Worker` running bcryptjs's synchronous functions, one call at a time in the
 * order asked, so that a comparison never holds up the event loop that serves scrapes.
 *
 * The worker's module is a `data:` URL. A worker loaded from a file needs `--allow-read` on that file, which the
 * start task does not grant; a `data:` module needs neither a permission nor a file to ship beside a `deno compile`d
 * binary. Its one import, `bcryptjs`, resolves through deno.json's imports, as in the main thread.
 */

/** bcrypt functions that run on the worker thread. */
export interface BcryptWorker {
  /** Whether `password` matches the bcrypt `hash` (bcryptjs's `compareSync`). */
  compare(password: string, hash: string): Promise<boolean>;
  /** A bcrypt hash of `password` with a random salt and the given cost (bcryptjs's `hashSync`). */
  hash(password: string, cost: number): Promise<string>;
  /** Stops the thread; calls still waiting reject. */
  close(): void;
}

type Call = { op: "compare"; password: string; hash: string } | { op: "hash"; password: string; cost: number };
type Answer = { id: number; result: boolean | string } | { id: number; error: string };

const WORKER_SOURCE = `import bcrypt from "bcryptjs";
self.onmessage = ({ data: { id, call } }) => {
  try {
    const result = call.op === "compare"
      ? bcrypt.compareSync(call.password, call.hash)
      : bcrypt.hashSync(call.password, call.cost);
    self.postMessage({ id, result });
  } catch (error) {
    self.postMessage({ id, error: String(error?.message ?? error) });
  }
};
`;

/** How soon after a worker failed another may be started: a worker that fails at once must not be restarted in a loop. */
const RESTART_AFTER_MS = 1_000;

/**
 * Starts the worker thread. It inherits the process's permissions and needs none of them.
 * A call rejects with an Error when bcryptjs throws (a malformed hash) or when the thread fails or is closed. A thread
 * that failed is replaced by a new one on a later call (at most one a second), so a fault of one comparison does not
 * refuse every credential for the rest of the process's life.
 */
export function startBcryptWorker(now: () => number = Date.now): BcryptWorker {
  let thread = startThread();
  let failedAtMs: number | undefined;
  let closed = false;
  const run = (call: Call): Promise<boolean | string> => {
    if (closed) return Promise.reject(new Error("the bcrypt worker was closed"));
    if (thread.failure) {
      failedAtMs ??= now();
      if (now() - failedAtMs < RESTART_AFTER_MS) return Promise.reject(thread.failure);
      thread.terminate();
      thread = startThread();
      failedAtMs = undefined;
    }
    return thread.run(call);
  };
  return {
    compare: async (password, hash) => (await run({ op: "compare", password, hash })) as boolean,
    hash: async (password, cost) => (await run({ op: "hash", password, cost })) as string,
    close: () => {
      closed = true;
      thread.terminate();
      thread.failAll(new Error("the bcrypt worker was closed"));
    },
  };
}

/** One worker thread and the calls waiting for it; `failure` is set once it failed. */
function startThread() {
  const worker = new Worker(`data:text/javascript,${encodeURIComponent(WORKER_SOURCE)}`, {
    type: "module",
    name: "bcrypt",
  });
  const waiting = new Map<number, { resolve: (result: boolean | string) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  const thread = {
    failure: undefined as Error | undefined,
    failAll(error: Error) {
      thread.failure ??= error;
      for (const { reject } of waiting.values()) reject(thread.failure);
      waiting.clear();
    },
    run(call: Call) {
      return new Promise<boolean | string>((resolve, reject) => {
        if (thread.failure) return reject(thread.failure);
        const id = nextId++;
        waiting.set(id, { resolve, reject });
        worker.postMessage({ id, call });
      });
    },
    terminate() {
      worker.terminate();
    },
  };
  worker.onmessage = ({ data }: MessageEvent<Answer>) => {
    const call = waiting.get(data.id);
    if (!call) return;
    waiting.delete(data.id);
    if ("error" in data) call.reject(new Error(`bcrypt: ${data.error}`));
    else call.resolve(data.result);
  };
  worker.onerror = (event) => {
    // Handled here: unhandled, a worker's error ends the whole process.
    event.preventDefault();
    thread.failAll(new Error(`the bcrypt worker failed: ${event.message}`));
  };
  return thread;
}

/**
 * Never called: names bcryptjs to the module graph, which `deno compile` embeds, since the worker's own import of it
 * is inside a `data:` URL that no graph sees.
 */
export const bcryptjsForTheModuleGraph = () => import("bcryptjs");
