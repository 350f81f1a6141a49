/**
 * The exporter against real engines: Docker at /var/run/docker.sock, and Podman's Docker-compatible service
 * (started by the tests on a socket of their own). Containers are started, restarted, stopped, renamed, paused
 * and removed with each engine's CLI, and /metrics is scraped over HTTP from the exporter started as users
 * start it, pointed at that engine's socket. Every case runs against both engines (`[docker] ...`,
 * `[podman] ...`); where Podman behaves differently the case says so where it branches. Every container runs
 * with `--network none` and is removed at the end of its test.
 */
import assert from "node:assert/strict";
import { ContainerScope, waitFor } from "../support/docker.ts";
import {
  engineTest as registerForEngines,
  type PodmanEngine,
  type TestEngine,
  testEngines,
} from "../support/engines.ts";
import {
  type Exporter,
  type ExporterOptions,
  findSamples,
  type ParsedSample,
  parseSamples,
  sampleValue,
  startExporter,
} from "../support/exporter.ts";

const ENGINES = await testEngines("docker_engine_test.ts");

/** Registers `fn` once per engine, as `[docker] name` and `[podman] name`. */
const engineTest = (name: string, fn: (engine: TestEngine) => Promise<void>) => registerForEngines(ENGINES, name, fn);

/** Registers a case about something only Podman has (pods). */
function podmanTest(name: string, fn: (engine: PodmanEngine) => Promise<void>): void {
  const { engine, ignore } = ENGINES.find((e) => e.engine.name === "podman")!;
  Deno.test({
    name: `[podman] ${name}`,
    ignore,
    fn: async () => {
      await engine.prepare();
      await fn(engine as PodmanEngine);
    },
  });
}

/** The exporter, reading `engine`'s socket. */
function exporterFor(engine: TestEngine, options: ExporterOptions = {}): Promise<Exporter> {
  return startExporter({ ...options, dockerSocket: engine.socket });
}

/** How long to wait for something the event stream should bring at once (generous, for a loaded CI machine). */
const EVENT_WAIT_MS = 10_000;

/** The compose label keys as Compose writes them, and the label names the compatibility series gives them. */
const COMPOSE_KEYS = [
  ["config-hash", "config_hash"],
  ["container-number", "container_number"],
  ["depends_on", "depends_on"],
  ["image", "image"],
  ["oneoff", "oneoff"],
  ["project", "project"],
  ["project.config_files", "project_config_files"],
  ["project.working_dir", "project_working_dir"],
  ["service", "service"],
  ["version", "version"],
] as const;

/** A Docker RFC 3339 timestamp with nanoseconds as Unix seconds. */
function unixSeconds(text: string): number {
  const match = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(text);
  assert.ok(match, `not a Docker timestamp: ${text}`);
  return Date.parse(match[1] + match[3]) / 1000 + Number(`0.${match[2] ?? "0"}`);
}

/** Asserts a time series value is the engine's timestamp, to the microsecond (float64 keeps about that much). */
function assertSameTime(actual: number | undefined, dockerTime: string, what: string): void {
  assert.ok(actual !== undefined, `${what} is missing`);
  const expected = unixSeconds(dockerTime);
  assert.ok(Math.abs(actual - expected) < 1e-6, `${what} is ${actual}, the engine says ${dockerTime} (${expected})`);
}

/** Scrapes until `probe` returns something for the samples, and returns that. */
function waitForSamples<T>(
  exporter: Exporter,
  probe: (samples: ParsedSample[]) => T | undefined | false,
  what: string,
  timeoutMs = EVENT_WAIT_MS,
): Promise<T> {
  return waitFor(async () => probe(await exporter.samples()), timeoutMs, what);
}

/** The state whose `docker_container_state` series is 1 for `id`, asserting all seven series are there. */
function stateOf(samples: ParsedSample[], id: string): string | undefined {
  const states = findSamples(samples, "docker_container_state", { id });
  if (states.length === 0) return undefined;
  assert.equal(states.length, 7, `docker_container_state has ${states.length} series for ${id}`);
  const on = states.filter((s) => s.value === 1);
  assert.equal(on.length, 1, `docker_container_state is 1 for ${on.length} states of ${id}`);
  return on[0].labels.state;
}

function healthOf(samples: ParsedSample[], id: string): string | undefined {
  return findSamples(samples, "docker_container_health_status", { id }).find((s) => s.value === 1)?.labels.status;
}

engineTest("a started container appears on /metrics within a second", async (engine) => {
  await using scope = new ContainerScope("engine", engine);
  await using exporter = await exporterFor(engine);
  const { id, name } = await scope.run();
  const started = performance.now();
  const samples = await waitForSamples(
    exporter,
    (s) => findSamples(s, "start_time_seconds_container", { id }).length > 0 && s,
    `start_time_seconds_container for ${name}`,
  );
  const elapsedMs = performance.now() - started;
  assert.ok(elapsedMs <= 1000, `the container appeared ${Math.round(elapsedMs)} ms after docker run returned`);

  const details = await engine.inspect(id);
  const [compat] = findSamples(samples, "start_time_seconds_container", { id });
  assert.equal(compat.labels.name, name);
  assert.equal(compat.labels.image, details.Config.Image);
  assertSameTime(compat.value, details.State.StartedAt, "start_time_seconds_container");
  assert.equal(stateOf(samples, id), "running");
  assert.equal(healthOf(samples, id), "none");
  await exporter.stop();
});

engineTest("docker_engine_info and server_hostname describe the engine, and docker_up is 1", async (engine) => {
  await using exporter = await exporterFor(engine);
  const samples = await exporter.samples();
  // Podman reports its own version (4.3.1) and the Docker API version it serves (1.41), as Docker does its own.
  const { version, apiVersion, os, kernelVersion, hostname } = await engine.facts();
  assert.deepEqual(findSamples(samples, "docker_engine_info"), [{
    name: "docker_engine_info",
    labels: { version, api_version: apiVersion, os, kernel_version: kernelVersion, hostname },
    value: 1,
  }]);
  assert.deepEqual(findSamples(samples, "server_hostname"), [{
    name: "server_hostname",
    labels: { hostname },
    value: 1,
  }]);
  assert.equal(sampleValue(samples, "docker_up"), 1);
  await exporter.stop();
});

engineTest("restart replaces the start time and leaves no series of the old run", async (engine) => {
  await using scope = new ContainerScope("engine", engine);
  await using exporter = await exporterFor(engine);
  const { id } = await scope.run();
  const before = await waitForSamples(
    exporter,
    (s) => sampleValue(s, "docker_container_start_time_seconds", { id }) !== undefined && s,
    "the first start time",
  );
  const firstCompat = sampleValue(before, "start_time_seconds_container", { id });
  const firstStart = sampleValue(before, "docker_container_start_time_seconds", { id });
  assert.ok(firstCompat !== undefined && firstStart !== undefined);

  await engine.cli("restart", id);
  const after = await waitForSamples(exporter, (s) => {
    const compat = sampleValue(s, "start_time_seconds_container", { id });
    const start = sampleValue(s, "docker_container_start_time_seconds", { id });
    return compat !== undefined && compat !== firstCompat && start !== firstStart && stateOf(s, id) === "running" &&
      s;
  }, "the new start time after restart");

  const details = await engine.inspect(id);
  for (const family of ["start_time_seconds_container", "docker_container_start_time_seconds"]) {
    const series = findSamples(after, family, { id });
    assert.equal(series.length, 1, `${family} has ${series.length} series for the restarted container`);
    assertSameTime(series[0].value, details.State.StartedAt, family);
    assert.ok(series[0].value > firstStart, `${family} did not move forward`);
  }
  assert.equal(findSamples(after, "docker_container_info", { id }).length, 1);
  // A restart by hand is not one by the restart policy: both engines leave RestartCount at 0.
  assert.equal(details.RestartCount, 0);
  assert.equal(sampleValue(after, "docker_container_restarts_total", { id }), 0);
  await exporter.stop();
});

engineTest(
  "stop moves the state to exited and drops the container from start_time_seconds_container",
  async (engine) => {
    await using scope = new ContainerScope("engine", engine);
    await using exporter = await exporterFor(engine);
    const { id } = await scope.run();
    await waitForSamples(exporter, (s) => stateOf(s, id) === "running", "the running state");

    await engine.cli("stop", id);
    const details = await engine.inspect(id);
    const finishedAt = unixSeconds(details.State.FinishedAt);
    // The die event's own time stands in for the finish time until the inspect brings the exact one. (Podman
    // sends no `stop` event for a stop; only its `died`, which the exporter must ask for by that name, says so.)
    const samples = await waitForSamples(exporter, (s) => {
      const finished = sampleValue(s, "docker_container_finished_time_seconds", { id });
      return stateOf(s, id) === "exited" && finished !== undefined && Math.abs(finished - finishedAt) < 1e-6 && s;
    }, `the exited state with the finish time ${details.State.FinishedAt}`);
    assert.deepEqual(findSamples(samples, "start_time_seconds_container", { id }), []);
    assert.equal(sampleValue(samples, "docker_container_exit_code", { id }), 0);
    assertSameTime(
      sampleValue(samples, "docker_container_start_time_seconds", { id }),
      details.State.StartedAt,
      "docker_container_start_time_seconds of the stopped container",
    );
    await exporter.stop();
  },
);

engineTest("rm --force removes every series of the container", async (engine) => {
  await using scope = new ContainerScope("engine", engine);
  await using exporter = await exporterFor(engine);
  const { id } = await scope.run();
  await waitForSamples(exporter, (s) => stateOf(s, id) === "running", "the running state");

  // Podman says `remove` where Docker says `destroy`.
  await engine.cli("rm", "--force", ...engine.forceRemoveFlags, id);
  await waitFor(async () => !(await exporter.scrape()).includes(id), EVENT_WAIT_MS, "every series of the removed id");
  await exporter.stop();
});

engineTest(
  "compose labels arrive exactly on start_time_seconds_container and docker_container_info",
  async (engine) => {
    await using scope = new ContainerScope("engine", engine);
    await using exporter = await exporterFor(engine);
    const labels: Record<string, string> = {
      "com.docker.compose.config-hash": "4c4b1e4d8a0c3f5e9b7a6d2c1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f",
      "com.docker.compose.container-number": "2",
      "com.docker.compose.depends_on": "db:service_started:false,cache:service_healthy:true",
      "com.docker.compose.image": "sha256:0d4b1e6c2a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d",
      "com.docker.compose.oneoff": "False",
      "com.docker.compose.project": `${scope.prefix}-shop`,
      "com.docker.compose.project.config_files": "/srv/shop/compose.yaml,/srv/shop/compose.override.yaml",
      "com.docker.compose.project.working_dir": '/srv/shop "blue" \\ green',
      "com.docker.compose.service": "web",
      "com.docker.compose.version": "1.29.2",
    };
    const { id, name } = await scope.run({ labels: { ...labels, "com.example.team": "payments" } });
    const samples = await waitForSamples(
      exporter,
      (s) => findSamples(s, "start_time_seconds_container", { id }).length > 0 && s,
      "start_time_seconds_container of the compose container",
    );
    const details = await engine.inspect(id);

    const [compat] = findSamples(samples, "start_time_seconds_container", { id });
    assert.deepEqual(compat.labels, {
      id,
      name,
      image: details.Config.Image,
      ...Object.fromEntries(
        COMPOSE_KEYS.map((
          [key, label],
        ) => [`container_label_com_docker_compose_${label}`, labels[`com.docker.compose.${key}`]]),
      ),
    });
    assert.deepEqual(findSamples(samples, "docker_container_info", { id }), [{
      name: "docker_container_info",
      labels: {
        id,
        name,
        image: details.Config.Image,
        image_id: details.Image,
        compose_project: `${scope.prefix}-shop`,
        compose_service: "web",
      },
      value: 1,
    }]);
    await exporter.stop();
  },
);

engineTest("podman-compose's labels fill the compose labels it writes under io.podman.compose.*", async (engine) => {
  await using scope = new ContainerScope("engine", engine);
  await using exporter = await exporterFor(engine);
  const project = `${scope.prefix}-shop`;
  // What podman-compose 1.2.0 writes on every container (podman_compose.py): its config hash and version only
  // under io.podman.compose.*, the rest under Docker's names, and no depends_on, image or oneoff at all.
  const labels = {
    "io.podman.compose.config-hash": "5e0e2c3b6d9f1a4c7b8e2d0f3a6c9b1e4d7a0c3f6b9e2d5a8c1f4b7e0d3a6c9b",
    "io.podman.compose.project": project,
    "io.podman.compose.version": "1.2.0",
    "PODMAN_SYSTEMD_UNIT": `podman-compose@${project}.service`,
    "com.docker.compose.project": project,
    "com.docker.compose.project.working_dir": "/srv/shop",
    "com.docker.compose.project.config_files": "compose.yaml",
    "com.docker.compose.container-number": "1",
    "com.docker.compose.service": "web",
  };
  const { id, name } = await scope.run({ labels });
  const samples = await waitForSamples(
    exporter,
    (s) => findSamples(s, "start_time_seconds_container", { id }).length > 0 && s,
    "start_time_seconds_container of the podman-compose container",
  );
  const details = await engine.inspect(id);
  assert.deepEqual(findSamples(samples, "start_time_seconds_container", { id })[0].labels, {
    id,
    name,
    image: details.Config.Image,
    container_label_com_docker_compose_config_hash: labels["io.podman.compose.config-hash"],
    container_label_com_docker_compose_container_number: "1",
    container_label_com_docker_compose_depends_on: "",
    container_label_com_docker_compose_image: "",
    container_label_com_docker_compose_oneoff: "",
    container_label_com_docker_compose_project: project,
    container_label_com_docker_compose_project_config_files: "compose.yaml",
    container_label_com_docker_compose_project_working_dir: "/srv/shop",
    container_label_com_docker_compose_service: "web",
    container_label_com_docker_compose_version: "1.2.0",
  });
  assert.deepEqual(findSamples(samples, "docker_container_info", { id })[0].labels, {
    id,
    name,
    image: details.Config.Image,
    image_id: details.Image,
    compose_project: project,
    compose_service: "web",
  });
  await exporter.stop();
});

engineTest("a HEALTHCHECK container goes starting, healthy, unhealthy, with a failing streak", async (engine) => {
  await using scope = new ContainerScope("engine", engine);
  // Podman 4.3 sends `health_status` when a check starts, before its result is stored, so the inspect that event
  // brings shows the health from before the check; the result shows at the next refresh, which inspects every
  // running container with a HEALTHCHECK (Podman's list shows no health). A 1 s refresh keeps the wait short.
  await using exporter = await exporterFor(
    engine,
    engine.name === "podman" ? { env: { EXPORTER_REFRESH_INTERVAL: "1s" } } : {},
  );
  const seen: string[] = [];
  const streakWhileHealthy: number[] = [];
  /** Notes each health the exporter shows for `id`, in order; true once it shows `wanted` (unhealthy: with a streak). */
  const reached = (s: ParsedSample[], id: string, wanted: string) => {
    const health = healthOf(s, id);
    // Until the start event's inspect lands, the record from `create` may show no health at all.
    const beforeStart = health === "none" && seen.length === 0;
    if (health !== undefined && !beforeStart && health !== seen.at(-1)) seen.push(health);
    const streak = sampleValue(s, "docker_container_health_failing_streak", { id });
    if (health === "healthy") streakWhileHealthy.push(streak!);
    return health === wanted && (wanted !== "unhealthy" || (streak ?? 0) > 0) && s;
  };
  let unhealthy: ParsedSample[];
  let id: string;
  if (engine.name === "docker") {
    // Healthy while /tmp/ok exists; the container removes it after 3 s, and one failed check makes it unhealthy.
    ({ id } = await scope.run({
      flags: [
        "--health-cmd",
        "test -f /tmp/ok",
        "--health-interval",
        "1s",
        "--health-timeout",
        "1s",
        "--health-retries",
        "1",
      ],
      command: ["sh", "-c", "touch /tmp/ok; sleep 3; rm /tmp/ok; sleep 60"],
    }));
    unhealthy = await waitForSamples(
      exporter,
      (s) => reached(s, id, "unhealthy"),
      "the unhealthy state with a failing streak",
      15_000,
    );
  } else {
    // Podman 4.3 runs health checks from systemd timers, and this machine has no systemd ("unable to get systemd
    // connection to add healthchecks"): the test runs each check with `podman healthcheck run`, as the timer
    // would, with the interval disabled so that Podman does not look for systemd at all.
    ({ id } = await scope.run({
      flags: ["--health-cmd", "test -f /tmp/ok", "--health-interval", "disable", "--health-retries", "1"],
      command: ["sh", "-c", "touch /tmp/ok; sleep 600"],
    }));
    await waitForSamples(exporter, (s) => reached(s, id, "starting"), "the starting state");
    await engine.cli("healthcheck", "run", id);
    await waitForSamples(exporter, (s) => reached(s, id, "healthy"), "the healthy state");
    await engine.cli("exec", id, "rm", "/tmp/ok");
    await assert.rejects(engine.cli("healthcheck", "run", id), /\(exit 1\)/);
    unhealthy = await waitForSamples(
      exporter,
      (s) => reached(s, id, "unhealthy"),
      "the unhealthy state with a failing streak",
    );
  }

  assert.deepEqual(seen, ["starting", "healthy", "unhealthy"]);
  assert.ok(
    streakWhileHealthy.length > 0 && streakWhileHealthy.every((streak) => streak === 0),
    `${streakWhileHealthy}`,
  );
  assert.equal(stateOf(unhealthy, id), "running");
  await exporter.stop();
});

engineTest("restarts by the restart policy count in docker_container_restarts_total", async (engine) => {
  await using scope = new ContainerScope("engine", engine);
  await using exporter = await exporterFor(engine);
  // Fails three times: the first run and two restarts (Docker's restart manager and Podman's conmon alike).
  const { id } = await scope.run({ flags: ["--restart", "on-failure:2"], command: ["sh", "-c", "sleep 0.5; exit 4"] });
  const details = await waitFor(
    async () => {
      const now = await engine.inspect(id);
      return now.State.Status === "exited" && now.RestartCount === 2 && now;
    },
    EVENT_WAIT_MS,
    "the engine to give up after two restarts",
  );
  assert.equal(details.State.ExitCode, 4);
  // The die event's own time stands in for the finish time until its inspect brings the exact one.
  const [startedAt, finishedAt] = [unixSeconds(details.State.StartedAt), unixSeconds(details.State.FinishedAt)];
  await waitForSamples(
    exporter,
    (s) => {
      const started = sampleValue(s, "docker_container_start_time_seconds", { id }) ?? 0;
      const finished = sampleValue(s, "docker_container_finished_time_seconds", { id }) ?? 0;
      return stateOf(s, id) === "exited" && sampleValue(s, "docker_container_restarts_total", { id }) === 2 &&
        sampleValue(s, "docker_container_exit_code", { id }) === 4 && Math.abs(started - startedAt) < 1e-6 &&
        Math.abs(finished - finishedAt) < 1e-6;
    },
    `two restarts, exit code 4, and the last run's start and finish, ${details.State.StartedAt} and ` +
      details.State.FinishedAt,
  );
  await exporter.stop();
});

engineTest("a container that exits with code 3 shows docker_container_exit_code 3 and state exited", async (engine) => {
  await using scope = new ContainerScope("engine", engine);
  await using exporter = await exporterFor(engine);
  const { id } = await scope.run({ command: ["sh", "-c", "exit 3"] });
  const samples = await waitForSamples(
    exporter,
    (s) => stateOf(s, id) === "exited" && sampleValue(s, "docker_container_exit_code", { id }) === 3 && s,
    "exit code 3",
  );
  assert.deepEqual(findSamples(samples, "start_time_seconds_container", { id }), []);
  assert.equal(sampleValue(samples, "docker_container_oom_killed", { id }), 0);
  await exporter.stop();
});

engineTest("rename changes the name label of every series of the container", async (engine) => {
  await using scope = new ContainerScope("engine", engine);
  await using exporter = await exporterFor(engine);
  const { id, name } = await scope.run({ name: "before" });
  const ofContainer = (samples: ParsedSample[]) =>
    samples.filter((s) => s.labels.id === id).map((s) => JSON.stringify(s)).sort();
  const before = await waitForSamples(exporter, (s) => stateOf(s, id) === "running" && s, "the running state");

  const renamed = scope.nameFor("after");
  await engine.cli("rename", name, renamed);
  const after = await waitForSamples(
    exporter,
    (s) => sampleValue(s, "docker_container_info", { id, name: renamed }) === 1 && s,
    "the new name",
  );
  // The same series with the same values, only the name label changed.
  const expected = before.map((s) => (s.labels.id === id ? { ...s, labels: { ...s.labels, name: renamed } } : s));
  assert.deepEqual(ofContainer(after), ofContainer(expected));
  await exporter.stop();
});

engineTest("pause and unpause move the state to paused and back to running", async (engine) => {
  await using scope = new ContainerScope("engine", engine);
  await using exporter = await exporterFor(engine);
  const { id } = await scope.run();
  await waitForSamples(exporter, (s) => stateOf(s, id) === "running", "the running state");

  await engine.cli("pause", id);
  const paused = await waitForSamples(exporter, (s) => stateOf(s, id) === "paused" && s, "the paused state");
  // `docker ps` lists paused containers, so the compatibility series keeps them.
  assert.equal(findSamples(paused, "start_time_seconds_container", { id }).length, 1);

  await engine.cli("unpause", id);
  await waitForSamples(exporter, (s) => stateOf(s, id) === "running", "the running state after unpause");
  await exporter.stop();
});

engineTest(
  "EXPORTER_CONTAINER_LABELS=com.example.* adds the matching labels to docker_container_info only",
  async (engine) => {
    await using scope = new ContainerScope("engine", engine);
    await using exporter = await exporterFor(engine, { env: { EXPORTER_CONTAINER_LABELS: "com.example.*" } });
    const { id, name } = await scope.run({
      labels: {
        "com.example.team": "payments",
        "com.example.on-call": "alice@example.com",
        "com.examplefoo": "no match: not under com.example.",
        "org.other.team": "no match",
        "com.docker.compose.project": "shop",
      },
    });
    const samples = await waitForSamples(
      exporter,
      (s) => findSamples(s, "docker_container_info", { id }).length > 0 && s,
      "docker_container_info",
    );
    const details = await engine.inspect(id);
    assert.deepEqual(findSamples(samples, "docker_container_info", { id }), [{
      name: "docker_container_info",
      labels: {
        id,
        name,
        image: details.Config.Image,
        image_id: details.Image,
        compose_project: "shop",
        compose_service: "",
        container_label_com_example_on_call: "alice@example.com",
        container_label_com_example_team: "payments",
      },
      value: 1,
    }]);
    const elsewhere = samples.filter((s) =>
      s.name !== "docker_container_info" &&
      Object.keys(s.labels).some((key) => key.startsWith("container_label_com_example"))
    );
    assert.deepEqual(elsewhere, []);
    await exporter.stop();
  },
);

/** Runs `promtool check metrics` over `text`; returns its exit code and everything it printed. */
async function promtoolCheck(text: string): Promise<{ code: number; output: string }> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const output = await child.output();
  const decoder = new TextDecoder();
  return { code: output.code, output: decoder.decode(output.stdout) + decoder.decode(output.stderr) };
}

/** `# TYPE` lines as `family type`, with a counter's OpenMetrics family name given its `_total` back. */
function declaredTypes(text: string): string[] {
  return text.split("\n").filter((line) => line.startsWith("# TYPE ")).map((line) => {
    const [, , name, type] = line.split(" ");
    return `${type === "counter" && !name.endsWith("_total") ? name + "_total" : name} ${type}`;
  }).sort();
}

engineTest("the whole output passes promtool check metrics, and OpenMetrics ends with # EOF", async (engine) => {
  await using scope = new ContainerScope("engine", engine);
  await using exporter = await exporterFor(engine);
  // Label values that need escaping, a non-ASCII one, an exited and a paused container, and a health check.
  const { id: labelled } = await scope.run({
    labels: {
      "com.docker.compose.project": 'say "hi" \\ to\nthe next line',
      "com.docker.compose.service": "ünïcødé ✓ 😀",
    },
    flags: ["--health-cmd", "true", "--health-interval", "1s"],
  });
  const { id: exited } = await scope.run({ command: ["sh", "-c", "exit 7"] });
  const { id: paused } = await scope.run();
  await engine.cli("pause", paused);
  const samples = await waitForSamples(
    exporter,
    (s) =>
      stateOf(s, labelled) === "running" && stateOf(s, exited) === "exited" && stateOf(s, paused) === "paused" && s,
    "the three containers",
  );
  assert.equal(
    findSamples(samples, "docker_container_info", { id: labelled })[0].labels.compose_project,
    'say "hi" \\ to\nthe next line',
  );

  const text = await exporter.scrape();
  assert.deepEqual(await promtoolCheck(text), { code: 0, output: "" });

  const openMetrics = await exporter.scrape({ openMetrics: true });
  assert.ok(
    openMetrics.endsWith("\n# EOF\n"),
    `OpenMetrics output ends with ${JSON.stringify(openMetrics.slice(-40))}`,
  );
  assert.equal(openMetrics.split("\n").filter((line) => line === "# EOF").length, 1);
  // promtool check metrics reads only the text format (it wants HELP under a counter's `_total` name), so
  // OpenMetrics is checked here against the text output, and parsed for real by Prometheus in prometheus_test.ts.
  assert.deepEqual(declaredTypes(openMetrics), declaredTypes(text));
  const ours = (all: ParsedSample[]) =>
    all.filter((s) => [labelled, exited, paused].includes(s.labels.id ?? "")).map((s) => JSON.stringify(s)).sort();
  assert.deepEqual(ours(parseSamples(openMetrics)), ours(parseSamples(text)));
  await exporter.stop();
});

/** The exposition without the values of the process_* samples, which change between any two scrapes. */
function withoutProcessValues(text: string): string {
  return text.replace(/^(process_[a-z_]+) .*$/gm, "$1 <value>");
}

/**
 * Takes plain scrapes before and after `encoded` until the two plain ones agree (other tests' containers
 * may change the output meanwhile); then returns that plain text and the decoded one, process values blanked.
 */
async function compareWithPlain(
  exporter: Exporter,
  encoded: () => Promise<string>,
): Promise<{ plain: string; decoded: string }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const before = withoutProcessValues(await exporter.scrape());
    const decoded = withoutProcessValues(await encoded());
    const after = withoutProcessValues(await exporter.scrape());
    if (before === after) return { plain: before, decoded };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("the output never held still for three scrapes");
}

/** Decompresses with `gzip -dc`, which reads a body of several gzip members to the end. */
async function gunzip(body: Uint8Array): Promise<string> {
  const child = new Deno.Command("gzip", { args: ["-dc"], stdin: "piped", stdout: "piped", stderr: "piped" }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(body);
  await writer.close();
  const output = await child.output();
  assert.ok(output.success, `gzip -dc failed: ${new TextDecoder().decode(output.stderr)}`);
  return new TextDecoder().decode(output.stdout);
}

engineTest("gzip-encoded /metrics (Accept-Encoding: gzip) decodes to the same text", async (engine) => {
  await using scope = new ContainerScope("engine", engine);
  await using exporter = await exporterFor(engine);
  await scope.run({ labels: { "com.docker.compose.project": "gzip" } });
  const { plain, decoded } = await compareWithPlain(exporter, async () => {
    const response = await exporter.rawGet("/metrics", { "Accept-Encoding": "gzip" });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-encoding"), "gzip");
    assert.equal(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    // gzip -d reads every gzip member of the body, as Go's reader (and so Prometheus) does.
    return await gunzip(response.body);
  });
  assert.equal(decoded, plain);
  assert.match(plain, /^docker_up 1$/m);
  await exporter.stop();
});

engineTest(
  "fetch() with Accept-Encoding: gzip receives the whole exposition, as curl --compressed would",
  async (engine) => {
    await using exporter = await exporterFor(engine);
    const { plain, decoded } = await compareWithPlain(exporter, async () => {
      // fetch decompresses a gzip body itself, as curl --compressed and browsers do.
      const { status, headers, text } = await exporter.get("/metrics", { "Accept-Encoding": "gzip" });
      assert.equal(status, 200);
      assert.equal(headers.get("content-encoding"), "gzip");
      return text;
    });
    assert.equal(decoded, plain);
    await exporter.stop();
  },
);

engineTest("a container removed right after it ran leaves no series behind", async (engine) => {
  await using scope = new ContainerScope("engine", engine);
  // The shortest refresh interval makes full lists race with the events of the short-lived container.
  await using exporter = await exporterFor(engine, {
    env: { EXPORTER_REFRESH_INTERVAL: "1s", EXPORTER_STALE_AFTER: "3s" },
  });
  const { id: gone } = await scope.run({ flags: ["--rm"], command: ["true"] });
  await waitFor(
    async () => {
      try {
        await engine.inspect(gone);
        return false;
      } catch {
        return true;
      }
    },
    EVENT_WAIT_MS,
    "docker run --rm to remove the container",
  );
  // Events arrive in order: once a later container shows, the destroy has been handled.
  const { id: marker } = await scope.run();
  await waitForSamples(exporter, (s) => stateOf(s, marker) === "running", "the later container");
  const until = performance.now() + 1000;
  while (performance.now() < until) {
    assert.ok(!(await exporter.scrape()).includes(gone), "a series of the removed container came back");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await exporter.stop();
});

podmanTest(
  "a pod's infra container and its members show as containers of their own, without the pod",
  async (engine) => {
    await using scope = new ContainerScope("engine", engine);
    await using exporter = await exporterFor(engine);
    const pod = scope.nameFor("pod");
    // Podman builds the infra container's image (localhost/podman-pause:<version>) from catatonit, installed apart.
    const podId = await engine.cli("pod", "create", "--network", "none", "--name", pod);
    try {
      const { id, name } = await scope.run({ name: "member", flags: ["--pod", pod] });
      const infraId = await engine.cli("pod", "inspect", "--format", "{{.InfraContainerID}}", pod);
      const samples = await waitForSamples(
        exporter,
        (s) => stateOf(s, id) === "running" && stateOf(s, infraId) === "running" && s,
        "the member and the infra container, running",
      );
      const [infra, member] = [await engine.inspect(infraId), await engine.inspect(id)];
      // Nothing of the Docker-compatible API names the pod: each is an ordinary container, the infra one named
      // `<first 12 characters of the pod id>-infra`.
      assert.deepEqual(findSamples(samples, "docker_container_info", { id: infraId }), [{
        name: "docker_container_info",
        labels: {
          id: infraId,
          name: `${podId.slice(0, 12)}-infra`,
          image: infra.Config.Image,
          image_id: infra.Image,
          compose_project: "",
          compose_service: "",
        },
        value: 1,
      }]);
      assert.match(infra.Config.Image, /^localhost\/podman-pause:/);
      assert.deepEqual(findSamples(samples, "docker_container_info", { id }), [{
        name: "docker_container_info",
        labels: {
          id,
          name,
          image: member.Config.Image,
          image_id: member.Image,
          compose_project: "",
          compose_service: "",
        },
        value: 1,
      }]);
      assert.ok(!(await exporter.scrape()).includes(pod), `a series names the pod ${pod}`);

      await engine.cli("pod", "rm", "--force", "--time", "0", pod);
      await waitFor(
        async () => {
          const text = await exporter.scrape();
          return !text.includes(id) && !text.includes(infraId);
        },
        EVENT_WAIT_MS,
        "every series of the pod's containers to go",
      );
    } finally {
      await engine.cli("pod", "rm", "--force", "--time", "0", "--ignore", pod);
    }
    await exporter.stop();
  },
);
