/**
 * The counts of starts and exits against real engines, Docker at /var/run/docker.sock and Podman's service (started by
 * the tests): containers crash in a loop, stop, complete, restart, run out of memory and are removed with each engine's
 * CLI, and /metrics is scraped over HTTP from the exporter started as users start it. Where Podman sends other events
 * than Docker, the case says so where it branches. Every container runs with `--network none`.
 */
import assert from "node:assert/strict";
import { ContainerScope, waitFor } from "../support/docker.ts";
import { engineTest as registerForEngines, type TestEngine, testEngines } from "../support/engines.ts";
import { type Exporter, findSamples, type ParsedSample, sampleValue, startExporter } from "../support/exporter.ts";

const ENGINES = await testEngines("event_counters_test.ts");

const engineTest = (name: string, fn: (engine: TestEngine) => Promise<void>) => registerForEngines(ENGINES, name, fn);

/** How long to wait for what the event stream brings, generous for a loaded machine (nothing is timed). */
const WAIT_MS = 20_000;

/** A container's counts as one scrape shows them: starts, and exits by reason. */
interface Counts {
  starts: number | undefined;
  completed: number | undefined;
  error: number | undefined;
  oom: number | undefined;
  stopped: number | undefined;
}

function countsOf(samples: ParsedSample[], id: string): Counts {
  const exits = (reason: string) => sampleValue(samples, "docker_container_exits_total", { id, reason });
  return {
    starts: sampleValue(samples, "docker_container_starts_total", { id }),
    completed: exits("completed"),
    error: exits("error"),
    oom: exits("oom"),
    stopped: exits("stopped"),
  };
}

/** Scrapes until the container's counts are `expected` (or one of them), and returns that scrape's samples. */
async function countsBecome(
  exporter: Exporter,
  id: string,
  expected: Counts | Counts[],
  what: string,
): Promise<ParsedSample[]> {
  const wanted = new Set([expected].flat().map((counts) => JSON.stringify(counts)));
  let last: Counts | undefined;
  try {
    return await waitFor(
      async () => {
        const samples = await exporter.samples();
        last = countsOf(samples, id);
        return wanted.has(JSON.stringify(last)) && samples;
      },
      WAIT_MS,
      what,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; the last scrape showed ${JSON.stringify(last)}`);
  }
}

const counts = (changes: Partial<Counts>): Counts => ({
  starts: 0,
  completed: 0,
  error: 0,
  oom: 0,
  stopped: 0,
  ...changes,
});

engineTest(
  "a crash loop of five restarts shows six starts and six errors more than the scrape before it",
  async (engine) => {
    await using scope = new ContainerScope("counts", engine);
    await using exporter = await startExporter({ dockerSocket: engine.socket });
    const { id } = await scope.create({ flags: ["--restart", "on-failure:5"], command: ["sh", "-c", "exit 1"] });
    const before = await countsBecome(exporter, id, counts({}), "the created container, every count at 0");
    assert.equal(sampleValue(before, "docker_container_restarts_total", { id }), 0);

    await engine.cli("start", id);
    await waitFor(
      async () => {
        const details = await engine.inspect(id);
        return details.State.Status === "exited" && details.RestartCount === 5;
      },
      WAIT_MS,
      "the engine to give up after five restarts",
    );
    // The first run and five restarts by the restart policy, each ending with code 1.
    const after = await countsBecome(exporter, id, counts({ starts: 6, error: 6 }), "six starts and six errors");
    assert.equal(sampleValue(after, "docker_container_restarts_total", { id }), 5);
    await exporter.stop();
  },
);

engineTest("a stop request counts stopped, exit 0 completed, and start and restart a start each", async (engine) => {
  await using scope = new ContainerScope("counts", engine);
  await using exporter = await startExporter({ dockerSocket: engine.socket });
  const { id } = await scope.run();
  await countsBecome(exporter, id, counts({ starts: 1 }), "the first start");

  if (engine.name === "docker") {
    // Docker sends kill (SIGTERM) before the die; the sleeper exits 0 on it, and counts as stopped all the same.
    await engine.cli("stop", id);
    await countsBecome(exporter, id, counts({ starts: 1, stopped: 1 }), "docker stop counted as stopped");
    await engine.cli("start", id);
    await countsBecome(exporter, id, counts({ starts: 2, stopped: 1 }), "docker start counted as a start");
    await engine.cli("restart", id);
    await countsBecome(exporter, id, counts({ starts: 3, stopped: 2 }), "docker restart: a stop and a start");
  } else {
    // Podman 4.3 sends the `stop` of a stop or restart only when it wins a race with the container's cleanup, so
    // such an exit counts as stopped or by its code (0 here). `podman kill` always sends its `kill` first.
    await engine.cli("kill", id);
    await countsBecome(exporter, id, counts({ starts: 1, stopped: 1 }), "podman kill counted as stopped");
    await engine.cli("start", id);
    await countsBecome(exporter, id, counts({ starts: 2, stopped: 1 }), "podman start counted as a start");
    await engine.cli("restart", id);
    await countsBecome(
      exporter,
      id,
      [counts({ starts: 3, stopped: 2 }), counts({ starts: 3, stopped: 1, completed: 1 })],
      "podman restart: an exit and a start",
    );
  }

  const done = await scope.run({ command: ["sh", "-c", "exit 0"] });
  await countsBecome(exporter, done.id, counts({ starts: 1, completed: 1 }), "exit 0 counted as completed");
  await exporter.stop();
});

engineTest(
  "an out-of-memory kill counts as oom on Docker; Podman 4.3 sends no oom event, so as error",
  async (engine) => {
    await using scope = new ContainerScope("counts", engine);
    await using exporter = await startExporter({ dockerSocket: engine.socket });
    // Buffers 64 MiB in an 8 MiB container (bounded should the limit not apply).
    const { id } = await scope.run({
      flags: ["--memory", "8m", "--memory-swap", "8m"],
      command: ["sh", "-c", "head -c 64m /dev/zero | tail"],
    });
    const expected = engine.name === "docker" ? counts({ starts: 1, oom: 1 }) : counts({ starts: 1, error: 1 });
    const samples = await countsBecome(exporter, id, expected, "the out-of-memory exit");
    if (engine.name === "docker") assert.equal(sampleValue(samples, "docker_container_oom_killed", { id }), 1);
    await exporter.stop();
  },
);

engineTest("rm drops a container's counts with its other series", async (engine) => {
  await using scope = new ContainerScope("counts", engine);
  await using exporter = await startExporter({ dockerSocket: engine.socket });
  const { id } = await scope.run({ command: ["sh", "-c", "exit 3"] });
  await countsBecome(exporter, id, counts({ starts: 1, error: 1 }), "the exit with code 3");
  await engine.cli("rm", id);
  await waitFor(
    async () => (await exporter.samples()).every((sample) => sample.labels.id !== id),
    WAIT_MS,
    "every series of the removed container to go",
  );
  assert.deepEqual(findSamples(await exporter.samples(), "docker_container_exits_total", { id }), []);
  await exporter.stop();
});

engineTest("health changes count by the health changed to, a restart as one to starting", async (engine) => {
  await using scope = new ContainerScope("counts", engine);
  await using exporter = await startExporter({ dockerSocket: engine.socket });
  const transitions = async (expected: Record<string, number>, what: string) => {
    let last: Record<string, number | undefined> = {};
    try {
      await waitFor(
        async () => {
          const samples = await exporter.samples();
          last = Object.fromEntries(
            ["healthy", "unhealthy", "starting"].map((to) => [
              to,
              sampleValue(samples, "docker_container_health_transitions_total", { id, to }),
            ]),
          );
          return JSON.stringify(last) === JSON.stringify(expected);
        },
        WAIT_MS,
        what,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}; the last scrape showed ${JSON.stringify(last)}`);
    }
  };
  // Healthy while /tmp/ok exists, which each start of the container makes.
  const command = ["sh", "-c", "trap 'exit 0' TERM; touch /tmp/ok; sleep 600 & wait"];
  // Podman 4.3 runs checks from systemd timers, which this machine lacks: the test runs each check itself, and each
  // event names the health from before its check, so every change shows one check later.
  const check = engine.name === "docker" ? () => Promise.resolve() : async (times = 2) => {
    for (let i = 0; i < times; i++) await engine.cli("healthcheck", "run", id).catch(() => {});
  };
  const flags = engine.name === "docker"
    ? ["--health-cmd", "test -f /tmp/ok", "--health-interval", "1s", "--health-timeout", "1s", "--health-retries", "1"]
    : ["--health-cmd", "test -f /tmp/ok", "--health-interval", "disable", "--health-retries", "1"];
  const { id } = await scope.run({ flags, command });
  await check();
  await transitions({ healthy: 1, unhealthy: 0, starting: 0 }, "the first healthy; the first starting is no change");
  await engine.cli("exec", id, "rm", "/tmp/ok");
  await check();
  await transitions({ healthy: 1, unhealthy: 1, starting: 0 }, "unhealthy");
  await engine.cli("restart", id);
  await check();
  await transitions({ healthy: 2, unhealthy: 1, starting: 1 }, "starting at the restart, then healthy");
  await exporter.stop();
});
