/**
 * What resource metrics cost at N real containers (default 100), for each source.
 *
 * 1. One collection, in this process: CPU milliseconds (`process.cpuUsage()` around `collect()`), wall time,
 *    engine requests, and the CPU the engine's own processes (dockerd, containerd, the shims) spent meanwhile,
 *    for the cgroup files and for the stats API; and the CPU of rendering the result.
 * 2. The real exporter, through a counting proxy on the Docker socket, collecting every 10 s for 30 s with each
 *    source and with resource metrics off: its CPU seconds over the window, its RSS, and its engine requests.
 *
 * Starts N busybox containers (`--network none`, names under a unique `dexp-resbench-` prefix) and removes
 * them at the end. Reads /sys/fs/cgroup and /proc, and bind-mounts them in a private mount namespace for the
 * exporter (root only): `deno run -A bench/resource_cycle.ts [N=100] [cgroup rounds=20] [api rounds=5]`
 * (0 rounds skips that source in part 1).
 */
import { fileURLToPath } from "node:url";
import { cpuUsage } from "node:process";
import { DENO_FILE_SYSTEM, openCgroupReader } from "../lib/resources/cgroup_reader.ts";
import { type ContainerRecord, recordFromInspect } from "../lib/engine/registry.ts";
import { createDockerApi } from "../lib/docker/api.ts";
import { formatText } from "../lib/metrics/exposition.ts";
import { silentLogger } from "../lib/shared/logger.ts";
import { apiSource, cgroupSource, ResourceCollector, resourceTargets } from "../lib/resources/collector.ts";
import { resourceFamilies } from "../lib/metrics/resource_families.ts";
import { loadDockerode } from "../lib/docker/dockerode.ts";
import { ContainerScope, ensureTestImage, SLEEP_COMMAND } from "../tests/support/docker.ts";
import { freePort, REPO_ROOT, startTaskFlagsFor } from "../tests/support/exporter.ts";
import { DockerProxy } from "./docker_proxy.ts";
import { BenchExporter, engineCpuSeconds, machine, median, quantile, sleep, startBenchExporter } from "./support.ts";

const N = Number(Deno.args[0] ?? 100);
/** Collections timed per source; the API source takes seconds per collection, so fewer. */
const ROUNDS = { cgroup: Number(Deno.args[1] ?? 20), api: Number(Deno.args[2] ?? 5) };
const WINDOW_MS = 30_000;
const INTERVAL = "10s";
function cpuMs<T>(run: () => Promise<T>): Promise<{ result: T; cpuMs: number; wallMs: number }> {
  const cpu = cpuUsage();
  const wall = performance.now();
  return run().then((result) => {
    const used = cpuUsage(cpu);
    return { result, cpuMs: (used.user + used.system) / 1000, wallMs: performance.now() - wall };
  });
}

function summary(values: number[]): string {
  return `median ${median(values).toFixed(2)}, p90 ${quantile(values, 0.9).toFixed(2)}, max ${
    Math.max(...values).toFixed(2)
  }`;
}

async function startContainers(scope: ContainerScope): Promise<void> {
  await ensureTestImage();
  for (let i = 0; i < N; i += 10) {
    await Promise.all(
      Array.from({ length: Math.min(10, N - i) }, (_, j) => scope.run({ name: String(i + j), command: SLEEP_COMMAND })),
    );
  }
}

async function inProcess(scope: ContainerScope): Promise<void> {
  const api = createDockerApi({ kind: "unix", path: "/var/run/docker.sock", url: "unix:///var/run/docker.sock" }, {
    Docker: await loadDockerode(),
    timeoutMs: 10_000,
  });
  api.useApiVersion((await api.version()).ApiVersion);
  const records: ContainerRecord[] = [];
  for (const summary of await api.listContainers()) {
    const inspect = await api.inspectContainer(summary.Id);
    if (inspect && inspect.Name.startsWith(`/${scope.prefix}-`)) records.push(recordFromInspect(inspect));
  }
  const targets = resourceTargets(records);
  console.log(`${targets.length} running containers of this benchmark`);

  let statsCalls = 0;
  const counted = apiSource((id) => {
    statsCalls++;
    return api.containerStats(id);
  });
  const reader = openCgroupReader({ fs: DENO_FILE_SYSTEM, cgroupRoot: "/sys/fs/cgroup", procRoot: "/proc" });
  const sources = { cgroup: cgroupSource(reader), api: counted };

  for (const [name, source] of Object.entries(sources)) {
    const collector = new ResourceCollector({
      mode: name as "cgroup" | "api",
      openCgroup: () => source,
      openApi: () => source,
      remoteEngine: false,
      targets: () => targets,
      intervalMs: 60_000,
      logger: silentLogger,
      now: () => performance.now(),
    });
    const cpu: number[] = [];
    const wall: number[] = [];
    const requests: number[] = [];
    const engine: number[] = [];
    const render: number[] = [];
    const rounds = ROUNDS[name as "cgroup" | "api"];
    if (rounds === 0) continue;
    for (let i = 0; i < 2; i++) await collector.collect();
    for (let i = 0; i < rounds; i++) {
      const before = statsCalls;
      const engineBefore = engineCpuSeconds();
      const cycle = await cpuMs(() => collector.collect());
      const engineDuring = engineCpuSeconds() - engineBefore;
      // The engine's own background CPU over as long again, without a collection, is subtracted.
      const idleBefore = engineCpuSeconds();
      await sleep(cycle.wallMs);
      engine.push((engineDuring - (engineCpuSeconds() - idleBefore)) * 1000);
      cpu.push(cycle.cpuMs);
      wall.push(cycle.wallMs);
      requests.push(statsCalls - before);
      const rendered = await cpuMs(() => Promise.resolve(formatText(resourceFamilies(records, collector.usage))));
      render.push(rendered.cpuMs);
    }
    console.log(`\n${name} source, one collection of ${collector.usage.size} containers (${rounds} rounds):`);
    console.log(`  CPU ms:  ${summary(cpu)}`);
    console.log(`  wall ms: ${summary(wall)}`);
    console.log(`  engine requests: ${summary(requests)}`);
    console.log(
      `  engine CPU ms it caused (dockerd, containerd, shims, less as long idle; 10 ms ticks): ${summary(engine)}`,
    );
    console.log(`  rendering the families as text afterwards, CPU ms: ${summary(render)}`);
    console.log(`  errors: ${collector.errors}`);
  }
}

async function wholeProcess(): Promise<void> {
  const proxy = await DockerProxy.start();
  // Mount points only: the mounts themselves live in the exporter's private mount namespace.
  const mounts = await Deno.makeTempDir({ prefix: "dexp-resbench-mounts-" });
  try {
    const runs = [
      { label: "cgroup files (mounted, --allow-read)", mode: "cgroup" },
      { label: "stats API (start task flags)", mode: "api" },
      { label: "resource metrics off", mode: "off" },
    ];
    console.log(`\nthe exporter process, collecting every ${INTERVAL} for ${WINDOW_MS / 1000} s after a 10 s settle:`);
    for (const { label, mode } of runs) {
      const env = { EXPORTER_RESOURCE_METRICS: mode, EXPORTER_RESOURCE_INTERVAL: INTERVAL, EXPORTER_LOG_LEVEL: "warn" };
      await using exporter = mode === "cgroup"
        ? await startWithCgroupMounts(mounts, proxy.path, env)
        : await startBenchExporter({ socket: proxy.path, env });
      await sleep(10_000);
      const fromMs = performance.now();
      const cpuBefore = exporter.cpuSeconds();
      const engineBefore = engineCpuSeconds();
      await sleep(WINDOW_MS);
      const cpuSeconds = exporter.cpuSeconds() - cpuBefore;
      const engineSeconds = engineCpuSeconds() - engineBefore;
      const counts = Object.fromEntries(proxy.countSince(fromMs));
      const stats = Object.entries(counts).filter(([op]) => op === "stats").reduce((sum, [, n]) => sum + n, 0);
      const { rssMiB, peakMiB } = exporter.memory();
      const series = (await exporter.scrape()).split("\n").filter((l) => l.startsWith("container_")).length;
      console.log(
        `  ${label}: ${(cpuSeconds * 1000).toFixed(0)} ms CPU in ${WINDOW_MS / 1000} s, engine processes ` +
          `${(engineSeconds * 1000).toFixed(0)} ms, RSS ${rssMiB.toFixed(1)} MiB ` +
          `(peak ${peakMiB.toFixed(1)}), stats requests ${stats}, other engine requests ${
            Object.values(counts).reduce((a, b) => a + b, 0) - stats
          }, container_* series ${series}`,
      );
      const sample = proxy.requests.find((r) => r.path.includes("/stats"));
      if (sample && label.startsWith("stats")) console.log(`    e.g. GET ${sample.path}`);
    }
  } finally {
    proxy.close();
    await Deno.remove(mounts, { recursive: true });
  }
}

/**
 * Starts the exporter as a container deployment runs it for the cgroup path: the host's /proc and
 * /sys/fs/cgroup bind-mounted elsewhere (in a private mount namespace) and `--allow-read` for those two,
 * on top of the `start` task's flags. Deno refuses /proc and /sys themselves without --allow-all.
 */
async function startWithCgroupMounts(
  mounts: string,
  socket: string,
  env: Record<string, string>,
): Promise<BenchExporter> {
  const [proc, cgroup] = [`${mounts}/proc`, `${mounts}/cgroup`];
  await Deno.mkdir(proc, { recursive: true });
  await Deno.mkdir(cgroup, { recursive: true });
  const flags = (await startTaskFlagsFor(socket)).map((flag) =>
    flag.startsWith("--allow-read=") ? `${flag},${proc},${cgroup}` : flag
  );
  const port = freePort();
  const inherited = Deno.env.toObject();
  for (const name of Object.keys(inherited)) {
    if (name.startsWith("EXPORTER_") || name.startsWith("DOCKER_")) delete inherited[name];
  }
  const child = new Deno.Command("unshare", {
    args: [
      ...["--mount", "--propagation", "private", "sh", "-c"],
      'mount --bind /proc "$1" && mount --rbind /sys/fs/cgroup "$2" && shift 2 && exec "$@"',
      ...["sh", proc, cgroup, Deno.execPath(), "run", ...flags, fileURLToPath(new URL("main.ts", REPO_ROOT))],
    ],
    cwd: fileURLToPath(REPO_ROOT),
    clearEnv: true,
    env: {
      ...inherited,
      ...env,
      NO_COLOR: "1",
      DOCKER_HOST: `unix://${socket}`,
      EXPORTER_PROC_ROOT: proc,
      EXPORTER_CGROUP_ROOT: cgroup,
      EXPORTER_HOST: "127.0.0.1",
      EXPORTER_PORT: String(port),
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const exporter = new BenchExporter(child, port, performance.now());
  for (const deadline = performance.now() + 30_000;;) {
    try {
      const response = await fetch(`${exporter.url}/readyz`);
      await response.body?.cancel();
      if (response.status === 200) return exporter;
    } catch { /* not listening yet */ }
    if (performance.now() > deadline) {
      await exporter.stop();
      throw new Error(`the exporter did not get ready:\n${exporter.stderr}`);
    }
    await sleep(25);
  }
}

console.log(`resource metrics cost at ${N} containers on ${machine()}`);
const scope = new ContainerScope("resbench");
console.log(`containers named ${scope.prefix}-*`);
try {
  await startContainers(scope);
  await inProcess(scope);
  await wholeProcess();
} finally {
  await scope.cleanup();
}
