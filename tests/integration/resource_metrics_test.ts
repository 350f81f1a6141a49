/**
 * Resource metrics on the real engine (cgroup v1 on this host), from both sources:
 *
 * - the cgroup files, with the permissions a container deployment grants: the exporter runs in a private
 *   mount namespace where the host's /proc and /sys/fs/cgroup are bind-mounted under a temporary directory
 *   (as `-v /proc:/host/proc:ro -v /sys/fs/cgroup:/host/sys/fs/cgroup:ro` does), with the `start` task's flags
 *   plus `--allow-read` for those two paths only: Deno refuses /proc and /sys themselves without --allow-all;
 * - the engine's stats API, which `auto` falls back to under the `start` task's flags alone.
 *
 * A busybox CPU burner, a container holding 50 MB, one writing 8 MiB with `oflag=direct` and one whose
 * loopback carries three refused connections; every container runs with `--network none`.
 */
import assert from "node:assert/strict";
import { createDockerApi } from "../../lib/docker/api.ts";
import { loadDockerode } from "../../lib/docker/dockerode.ts";
import { ContainerScope, docker, dockerTestsIgnored, ensureTestImage, waitFor } from "../support/docker.ts";
import { type Exporter, findSamples, type ParsedSample, sampleValue, startExporter } from "../support/exporter.ts";
import { startWithCgroupMounts, unshareProblem } from "../support/cgroup_exporter.ts";
import { FakeEngine } from "../support/fake_engine.ts";
import { HAVE_PROMTOOL, promtoolCheckMetrics } from "../support/golden.ts";

const dockerIgnored = await dockerTestsIgnored("resource_metrics_test.ts");
const mountProblem = dockerIgnored ? undefined : await unshareProblem();
if (mountProblem) {
  console.warn(`resource_metrics_test.ts: ignoring the cgroup path test: ${mountProblem}`);
}

/** How long to wait for something a collection every 500 ms should show. */
const WAIT_MS = 10_000;

/** The containers every test reads, started once. */
interface Workload {
  scope: ContainerScope;
  burner: string;
  holder: string;
  idle: string;
  writer: string;
  /** `/dev/<name>` of the disk under the engine's data root: where the writer's blocks go. */
  disk: string;
}

async function startWorkload(): Promise<Workload> {
  await ensureTestImage();
  const disk = await dataRootDisk();
  const scope = new ContainerScope("res");
  const sleep = "trap 'exit 0' TERM; sleep 600 & wait";
  const [burner, holder, idle, writer] = await Promise.all([
    scope.run({ name: "burner", flags: ["--cpus", "0.5"], command: ["sh", "-c", "while :; do :; done"] }),
    scope.run({
      name: "holder",
      flags: ["--memory", "128m"],
      // A shell variable of 50 MB: anonymous memory the container holds until it stops.
      command: ["sh", "-c", `x=$(head -c 50000000 /dev/zero | tr '\\0' a); ${sleep}`],
    }),
    scope.run({ name: "idle" }),
    scope.run({
      name: "writer",
      // A throttle rule far above what dd reaches: recent kernels count cgroup v1 block I/O on a device only
      // once some cgroup has a throttle rule on it (docker stats shows 0 otherwise too).
      flags: ["--device-write-bps", `${disk}:100gb`],
      command: ["sh", "-c", `dd if=/dev/zero of=/tmp/direct bs=1M count=8 oflag=direct 2>/dev/null; ${sleep}`],
    }),
  ]);
  return { scope, burner: burner.id, holder: holder.id, idle: idle.id, writer: writer.id, disk };
}

/** `/dev/<name>` of the block device holding the engine's data root, from its major:minor and /proc/partitions. */
async function dataRootDisk(): Promise<string> {
  const root = await docker("info", "--format", "{{.DockerRootDir}}");
  const device = await run("stat", "-c", "%Hd:%Ld", root);
  // Deno refuses to read /proc without --allow-all, so the test asks cat.
  const partitions = await run("cat", "/proc/partitions");
  const line = partitions.split("\n").map((l) => l.trim().split(/\s+/)).find(([major, minor]) =>
    `${major}:${minor}` === device
  );
  assert.ok(line, `${root} is on ${device}, which /proc/partitions does not list:\n${partitions}`);
  return `/dev/${line[3]}`;
}

async function run(command: string, ...args: string[]): Promise<string> {
  const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  const decoder = new TextDecoder();
  if (!output.success) throw new Error(`${command} ${args.join(" ")} failed: ${decoder.decode(output.stderr)}`);
  return decoder.decode(output.stdout).trim();
}

function value(samples: ParsedSample[], name: string, id: string, labels: Record<string, string> = {}): number {
  const found = findSamples(samples, name, { id, ...labels });
  assert.ok(found.length > 0, `no ${name} for ${id} ${JSON.stringify(labels)}`);
  return found.reduce((sum, s) => sum + s.value, 0);
}

/** Scrapes until `probe` holds (or returns a value), and returns the samples of that scrape. */
async function until(
  exporter: Exporter,
  probe: (samples: ParsedSample[]) => boolean,
  what: string,
  timeoutMs = WAIT_MS,
): Promise<ParsedSample[]> {
  return await waitFor(
    async () => {
      const samples = await exporter.samples();
      return probe(samples) && samples;
    },
    timeoutMs,
    what,
    100,
  );
}

Deno.test({
  name: "the cgroup path: CPU seconds rise, held memory, direct writes and loopback traffic show, promtool passes",
  ignore: dockerIgnored || mountProblem !== undefined,
  async fn(t) {
    const workload = await startWorkload();
    const mounts = await Deno.makeTempDir({ prefix: "dexp-res-mounts-" });
    let exporter: Exporter | undefined;
    try {
      exporter = await startWithCgroupMounts(mounts, {
        EXPORTER_RESOURCE_METRICS: "cgroup",
        EXPORTER_RESOURCE_INTERVAL: "1s",
      });
      const e = exporter;
      const { burner, holder, idle, writer, disk } = workload;

      await t.step("the source is the cgroup files, and every running container is read", async () => {
        const samples = await until(e, (s) => findSamples(s, "container_threads", { id: writer }).length > 0, "all");
        assert.equal(sampleValue(samples, "docker_exporter_resource_source_info", { source: "cgroup" }), 1);
        for (const id of [burner, holder, idle, writer]) assert.ok(value(samples, "container_threads", id) >= 1);
        assert.equal(sampleValue(samples, "docker_exporter_resource_read_errors_total"), 0);
      });

      await t.step("a busybox CPU burner's CPU seconds rise, and its --cpus 0.5 quota throttles it", async () => {
        const before = value(await e.samples(), "container_cpu_usage_seconds_total", burner, { cpu: "total" });
        const samples = await until(
          e,
          (s) => value(s, "container_cpu_usage_seconds_total", burner, { cpu: "total" }) >= before + 0.2,
          "the burner's CPU seconds to rise by 0.2",
        );
        assert.ok(value(samples, "container_cpu_user_seconds_total", burner) > 0);
        assert.equal(value(samples, "container_spec_cpu_quota", burner), 50_000);
        assert.equal(value(samples, "container_spec_cpu_period", burner), 100_000);
        await until(
          e,
          (s) => value(s, "container_cpu_cfs_throttled_periods_total", burner) > 0,
          "the burner to be throttled",
        );
        assert.deepEqual(findSamples(samples, "container_spec_cpu_quota", { id: idle }), [], "no quota, no series");
      });

      await t.step("a container holding 50 MB shows it in usage, working set and RSS", async () => {
        const samples = await until(e, (s) => value(s, "container_memory_rss", holder) >= 50e6, "50 MB of RSS");
        assert.ok(value(samples, "container_memory_usage_bytes", holder) >= 50e6);
        assert.ok(value(samples, "container_memory_working_set_bytes", holder) >= 50e6);
        assert.ok(value(samples, "container_memory_rss", idle) < 10e6, "the idle container holds under 10 MB");
        assert.equal(value(samples, "container_spec_memory_limit_bytes", holder), 128 * 1024 * 1024);
        assert.equal(value(samples, "container_spec_memory_limit_bytes", idle), 0);
        assert.equal(value(samples, "container_oom_events_total", holder), 0);
      });

      await t.step(
        "a container writing 8 MiB with oflag=direct shows block writes on the data root's disk",
        async () => {
          const samples = await until(
            e,
            (s) =>
              findSamples(s, "container_fs_writes_bytes_total", { id: writer, device: disk }).some((x) => x.value > 0),
            `block writes to ${disk}`,
          );
          assert.ok(value(samples, "container_fs_writes_bytes_total", writer, { device: disk }) >= 8 * 1024 * 1024);
          assert.ok(value(samples, "container_fs_writes_total", writer, { device: disk }) >= 8);
        },
      );

      await t.step("the loopback interface's counters move with three refused connections to 127.0.0.1", async () => {
        const lo = { interface: "lo" };
        const before = await e.samples();
        const rx = value(before, "container_network_receive_packets_total", idle, lo);
        const tx = value(before, "container_network_transmit_packets_total", idle, lo);
        const rxBytes = value(before, "container_network_receive_bytes_total", idle, lo);
        for (let i = 0; i < 3; i++) {
          // Nothing listens on port 9: a SYN and a RST, both on the container's own loopback.
          await docker("exec", idle, "sh", "-c", "nc 127.0.0.1 9 </dev/null; true");
        }
        const after = await until(
          e,
          (s) => value(s, "container_network_receive_packets_total", idle, lo) >= rx + 6,
          "six more packets on lo",
        );
        assert.ok(value(after, "container_network_transmit_packets_total", idle, lo) >= tx + 6);
        assert.ok(value(after, "container_network_receive_bytes_total", idle, lo) >= rxBytes + 6 * 40);
        assert.deepEqual(
          findSamples(after, "container_network_receive_packets_total", { id: idle }).map((s) => s.labels.interface),
          ["lo"],
          "--network none leaves only lo",
        );
      });

      await t.step({
        name: "the whole scrape passes promtool check metrics",
        ignore: !HAVE_PROMTOOL,
        fn: async () => {
          const { code, output } = await promtoolCheckMetrics(await e.scrape());
          assert.equal(output, "");
          assert.equal(code, 0);
        },
      });

      await t.step("a container that stops leaves the resource series at once", async () => {
        await docker("stop", "--time", "1", idle);
        await until(e, (s) => findSamples(s, "container_threads", { id: idle }).length === 0, "the series to go");
      });

      await exporter.stop();
      assert.ok(!exporter.stderr.includes('"level":"error"'), exporter.stderr);
    } finally {
      await exporter?.kill();
      await workload.scope.cleanup();
      await Deno.remove(mounts, { recursive: true });
    }
  },
});

Deno.test({
  name: "under the start task's flags alone, auto falls back to the stats API and reads every container",
  ignore: dockerIgnored,
  async fn() {
    const workload = await startWorkload();
    try {
      // Collections every 2 s, so a reading the busy engine did not answer in time is taken again at the next one.
      // (That a scrape never collects is pinned by the collector's unit tests.)
      await using exporter = await startExporter({ env: { EXPORTER_RESOURCE_INTERVAL: "2s" } });
      const { burner, holder, writer } = workload;
      const samples = await until(
        exporter,
        (s) =>
          findSamples(s, "container_memory_rss", { id: holder }).some((x) => x.value >= 50e6) &&
          findSamples(s, "container_fs_writes_bytes_total", { id: writer }).some((x) => x.value >= 8 * 1024 * 1024),
        "the holder's 50 MB and the writer's 8 MiB through the stats API",
        30_000,
      );
      assert.equal(sampleValue(samples, "docker_exporter_resource_source_info", { source: "api" }), 1);
      const why = exporter.logs().find((line) => String(line.msg).startsWith("collecting resource metrics from"));
      assert.equal(
        why?.msg,
        "collecting resource metrics from the engine's stats API: the cgroup files are not readable",
      );
      assert.match(String(why?.error), /^Cannot read the cgroup root \/sys\/fs\/cgroup: .*--allow-all/);

      const cpu = value(samples, "container_cpu_usage_seconds_total", burner, { cpu: "total" });
      assert.ok(cpu > 0);
      assert.equal(value(samples, "container_spec_cpu_quota", burner), 50_000);
      // The stats API has no device names: major:minor.
      const written = findSamples(samples, "container_fs_writes_bytes_total", { id: writer });
      assert.ok(written.some((s) => s.value >= 8 * 1024 * 1024), JSON.stringify(written));
      assert.ok(written.every((s) => /^\d+:\d+$/.test(s.labels.device)), JSON.stringify(written));

      if (HAVE_PROMTOOL) {
        const { code, output } = await promtoolCheckMetrics(await exporter.scrape());
        assert.equal(output, "");
        assert.equal(code, 0);
      }
      await exporter.stop();
    } finally {
      await workload.scope.cleanup();
    }
  },
});

Deno.test("containerStats() asks for one sample without streaming: stream=false&one-shot=true", async () => {
  const engine = await FakeEngine.start();
  try {
    const api = createDockerApi({ kind: "unix", path: engine.path, url: engine.url }, {
      Docker: await loadDockerode(),
      timeoutMs: 5000,
    });
    api.useApiVersion("1.41");
    // The fake engine has no stats endpoint: its 404 reads as a container that is gone.
    assert.equal(await api.containerStats("c0ffee"), undefined);
    assert.deepEqual(engine.requests.map((r) => `${r.method} ${r.path}`), [
      "GET /v1.41/containers/c0ffee/stats?stream=false&one-shot=true",
    ]);
  } finally {
    engine.stop();
  }
});
