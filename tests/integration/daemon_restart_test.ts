/**
 * The real Docker daemon stopped and started again under the exporter. Other tests share the dockerd at
 * /var/run/docker.sock, so this one starts a private dockerd of its own (tests/support/private_dockerd.ts: its
 * own socket, roots, pid file, cgroup parent and containerd namespaces, no network), every container
 * `--network none`. It is always stopped and its directory removed at the end.
 *
 * While the daemon is down the exporter must stay up, report `docker_up 0` and `/readyz` 503; once it is back,
 * `--restart always` containers must show their new start times, a `--restart no` one its exit, and a `--rm`
 * one (removed by the daemon while it restarted) no series at all.
 */
import assert from "node:assert/strict";
import { ContainerScope, waitFor } from "../support/docker.ts";
import { findSamples, type ParsedSample, sampleValue, startExporter } from "../support/exporter.ts";
import { PrivateDaemon, privateDaemonUnavailable } from "../support/private_dockerd.ts";

const why = await privateDaemonUnavailable();
if (why) console.warn(`daemon_restart_test.ts: ignoring its test: ${why}`);

/** A Docker RFC 3339 timestamp with nanoseconds as Unix seconds, as the exporter writes it. */
function unixSeconds(text: string): number {
  const match = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(text);
  assert.ok(match, `not a Docker timestamp: ${text}`);
  return Date.parse(match[1] + match[3]) / 1000 + Number(`0.${match[2] ?? "0"}`);
}

interface Inspect {
  RestartCount: number;
  State: { Status: string; StartedAt: string; FinishedAt: string; ExitCode: number };
}

Deno.test({
  name: "a Docker daemon stopped and started again: docker_up goes 0 then 1, and the series match the daemon after",
  ignore: why !== undefined,
  fn: async () => {
    await using daemon = await PrivateDaemon.create();
    await daemon.start();
    await daemon.engine.ensureImage();
    // No cleanup of its own: the daemon is private, and disposing of it removes every container it has.
    const scope = new ContainerScope("daemon-restart", daemon.engine);
    const always = await scope.run({ name: "always", flags: ["--restart", "always"] });
    const always2 = await scope.run({ name: "always2", flags: ["--restart", "always"] });
    const once = await scope.run({ name: "no-restart", flags: ["--restart", "no"] });
    const removed = await scope.run({ name: "rm", flags: ["--rm"] });
    const inspect = async (id: string): Promise<Inspect> =>
      JSON.parse(await daemon.engine.cli("inspect", "--type", "container", "--format", "{{json .}}", id));

    // A stale period longer than the outage: the series stay while the daemon is down, and must be corrected after.
    await using exporter = await startExporter({
      dockerSocket: daemon.socket,
      env: { EXPORTER_REFRESH_INTERVAL: "1s", EXPORTER_STALE_AFTER: "2m" },
      startTimeoutMs: 20_000,
    });
    const value = (samples: ParsedSample[], name: string, labels: Record<string, string>) =>
      sampleValue(samples, name, labels);
    const before = await waitFor(
      async () => {
        const samples = await exporter.samples();
        return [always, always2, once, removed].every((c) =>
          value(samples, "docker_container_state", { id: c.id, state: "running" }) === 1
        ) && samples;
      },
      15_000,
      "the four containers running",
    );
    const startedBefore = value(before, "docker_container_start_time_seconds", { id: always.id })!;
    assert.equal(startedBefore, unixSeconds((await inspect(always.id)).State.StartedAt));

    // Down.
    const stoppedAt = performance.now();
    await daemon.stop();
    const down = await waitFor(
      async () => {
        const samples = await exporter.samples();
        return value(samples, "docker_up", {}) === 0 && samples;
      },
      15_000,
      "docker_up 0",
    );
    assert.equal(exporter.status, undefined, "the exporter is still running");
    assert.equal((await exporter.get("/healthz")).status, 200);
    assert.equal((await exporter.get("/readyz")).status, 503);
    // Stopping, the daemon stopped its containers (and may have removed the --rm one) and said so in events; the
    // rest stay within the stale period, as last reported.
    const downIds = findSamples(down, "docker_container_info").map((s) => s.labels.id);
    for (const c of [always, always2, once]) assert.ok(downIds.includes(c.id), `${c.name} has no series while down`);
    // Over two seconds of retries the exporter keeps answering, and keeps reporting the engine down.
    for (let i = 0; i < 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(sampleValue(await exporter.samples(), "docker_up"), 0);
    }

    // Up again, with the same roots.
    await daemon.start();
    const downSeconds = (performance.now() - stoppedAt) / 1000;
    const [aInspect, a2Inspect, onceInspect] = await Promise.all([always, always2, once].map((c) => inspect(c.id)));
    assert.equal(aInspect.State.Status, "running");
    assert.equal(onceInspect.State.Status, "exited");
    await assert.rejects(inspect(removed.id), /No such container/, "the daemon removed the --rm container");
    const daemonIds = new Set((await daemon.engine.cli("ps", "--all", "--quiet", "--no-trunc")).split("\n"));
    assert.deepEqual(daemonIds, new Set([always.id, always2.id, once.id]));

    // Each check throws what it saw, so a timeout names the series that never matched.
    const expectEqual = (actual: unknown, expected: unknown, what: string) => {
      if (actual !== expected) throw new Error(`${what} is ${actual}, expected ${expected}`);
    };
    const after = await waitFor(
      async () => {
        const samples = await exporter.samples();
        const ids = new Set(findSamples(samples, "docker_container_info").map((s) => s.labels.id));
        expectEqual(value(samples, "docker_up", {}), 1, "docker_up");
        expectEqual([...ids].sort().join(","), [...daemonIds].sort().join(","), "the ids with series");
        for (const [container, state] of [[always, aInspect], [always2, a2Inspect]] as const) {
          expectEqual(
            value(samples, "docker_container_start_time_seconds", { id: container.id }),
            unixSeconds(state.State.StartedAt),
            `${container.name}'s start time`,
          );
        }
        expectEqual(value(samples, "docker_container_state", { id: once.id, state: "exited" }), 1, "no-restart exited");
        // A replayed die event first sets its own (millisecond) time; the inspect it triggers brings the exact one.
        expectEqual(
          value(samples, "docker_container_finished_time_seconds", { id: once.id }),
          unixSeconds(onceInspect.State.FinishedAt),
          "no-restart's finish time",
        );
        return samples;
      },
      20_000,
      "the series to match the restarted daemon",
    );
    for (const [container, state] of [[always, aInspect], [always2, a2Inspect], [once, onceInspect]] as const) {
      const id = container.id;
      assert.equal(value(after, "docker_container_state", { id, state: state.State.Status }), 1, container.name);
      assert.equal(
        value(after, "docker_container_start_time_seconds", { id }),
        unixSeconds(state.State.StartedAt),
        container.name,
      );
      assert.equal(value(after, "docker_container_exit_code", { id }), state.State.ExitCode, container.name);
      assert.equal(value(after, "docker_container_restarts_total", { id }), state.RestartCount, container.name);
    }
    assert.ok(unixSeconds(aInspect.State.StartedAt) > startedBefore, "the --restart always container started anew");
    assert.equal(
      value(after, "docker_container_finished_time_seconds", { id: once.id }),
      unixSeconds(onceInspect.State.FinishedAt),
    );
    assert.deepEqual(findSamples(after, "docker_container_info", { id: removed.id }), []);
    assert.ok(value(after, "docker_exporter_event_stream_reconnects_total", {})! >= 1);
    assert.equal((await exporter.get("/readyz")).status, 200);
    const unreachable = exporter.logs().filter((l) => l.msg === "Docker is unreachable; retrying");
    assert.equal(unreachable.length, 1, "the outage is logged once, not once per retry");
    if (Deno.env.get("DOCKER_EXPORTER_TEST_REPORT") === "1") {
      console.log(`the daemon was down for ${downSeconds.toFixed(1)} s`);
    }
    await exporter.stop();
  },
});
