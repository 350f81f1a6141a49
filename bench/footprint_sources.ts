/**
 * Resident memory and idle CPU at 100 real containers for the two ways resource metrics are collected by default:
 * the container image run as compose.yaml runs it (the host's cgroup tree and /proc mounted: cgroup files, every 5 s),
 * and `deno task start` from the checkout (the engine's stats API, every 15 s). Each exporter is scraped every 15 s for
 * `--window` seconds (default 60) after a settling minute; alternating runs, `--repeat` each (default 2). Containers
 * use `--network none`; the image runs on the host network bound to 127.0.0.1. Everything stops by itself.
 *
 *   docker build --network host -t docker-exporter:bench .      # see docs/running.md behind a TLS proxy
 *   deno run -A bench/footprint_sources.ts --image docker-exporter:bench [--window 60] [--repeat 2]
 */
import { parse } from "yaml";
import { fileURLToPath } from "node:url";
import { ContainerScope, docker, DOCKER_SOCKET, ensureTestImage } from "../tests/support/docker.ts";
import { freePort, REPO_ROOT } from "../tests/support/exporter.ts";
import { machine, median, sleep, startBenchExporter } from "./support.ts";

const CLOCK_TICKS = 100;
const log = (message: string) => console.error(`[footprint ${new Date().toISOString().slice(11, 19)}] ${message}`);

/** RSS in MiB and user+system CPU seconds of a process, from /proc. */
function readProcess(pid: number): { rssMiB: number; cpuSeconds: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const rssKiB = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { rssMiB: rssKiB / 1024, cpuSeconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS };
}

/** Scrapes every 15 s for `windowS` after `settleS`; returns RSS at the end, idle CPU %, and the source and its cost. */
async function measure(url: string, pid: number, windowS: number, settleS: number) {
  const scrape = async () => {
    const text = await (await fetch(`${url}/metrics`, { headers: { "Accept-Encoding": "gzip" } })).text();
    const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text)?.[1]);
    const source = /^docker_exporter_resource_source_info\{source="(\w+)"\} 1$/m.exec(text)?.[1];
    return { source, collectionSeconds: value("docker_exporter_resource_collection_duration_seconds") };
  };
  await sleep(settleS * 1000);
  const before = readProcess(pid);
  let last = await scrape();
  for (let t = 15; t < windowS; t += 15) {
    await sleep(15_000);
    last = await scrape();
  }
  await sleep((windowS % 15 || 15) * 1000);
  const after = readProcess(pid);
  return {
    rssMiB: after.rssMiB,
    cpuPercent: (after.cpuSeconds - before.cpuSeconds) / windowS * 100,
    source: last.source,
    collectionMs: last.collectionSeconds * 1000,
  };
}

/** compose.yaml's exporter service as docker-compose resolves it: its volumes and environment. */
async function composeService(): Promise<{ volumes: string[]; environment: Record<string, string> }> {
  const gid = (await Deno.stat(DOCKER_SOCKET)).gid!;
  const output = await new Deno.Command("docker-compose", {
    args: ["--file", "compose.yaml", "config"],
    cwd: fileURLToPath(REPO_ROOT),
    env: { DOCKER_GID: String(gid) },
    stdout: "piped",
  }).output();
  return parse(new TextDecoder().decode(output.stdout)).services["docker-exporter"];
}

async function imageRun(image: string, windowS: number, settleS: number) {
  const service = await composeService();
  const port = freePort();
  const name = `footprint-image-${crypto.randomUUID().slice(0, 8)}`;
  const env = Object.entries({ ...service.environment, EXPORTER_HOST: "127.0.0.1", EXPORTER_PORT: String(port) })
    .flatMap(([key, value]) => ["--env", `${key}=${value}`]);
  await docker(
    "run",
    "--detach",
    "--name",
    name,
    "--network",
    "host",
    "--read-only",
    "--cap-drop",
    "ALL",
    "--group-add",
    String((await Deno.stat(DOCKER_SOCKET)).gid),
    ...service.volumes.flatMap((volume) => ["--volume", volume]),
    ...env,
    image,
  );
  try {
    const pid = Number(await docker("inspect", "--format", "{{.State.Pid}}", name));
    return await measure(`http://127.0.0.1:${port}`, pid, windowS, settleS);
  } finally {
    await docker("rm", "--force", name);
  }
}

async function startTaskRun(windowS: number, settleS: number) {
  await using exporter = await startBenchExporter({ socket: DOCKER_SOCKET, env: { EXPORTER_LOG_LEVEL: "warn" } });
  return await measure(exporter.url, exporter.pid, windowS, settleS);
}

async function main(args: string[]): Promise<number> {
  const option = (name: string) => {
    const at = args.indexOf(name);
    return at >= 0 ? args[at + 1] : undefined;
  };
  const image = option("--image");
  if (!image) {
    console.error("usage: deno run -A bench/footprint_sources.ts --image TAG [--window 60] [--repeat 2]");
    return 2;
  }
  const windowS = Number(option("--window") ?? 60);
  const repeat = Number(option("--repeat") ?? 2);
  const settleS = 60;
  log(`machine: ${machine()}`);
  await ensureTestImage();
  const scope = new ContainerScope("footprint");
  const runs = {
    image: [] as Awaited<ReturnType<typeof imageRun>>[],
    task: [] as Awaited<ReturnType<typeof imageRun>>[],
  };
  try {
    log("starting 100 containers");
    for (let i = 0; i < 100; i++) await scope.run({ name: `idle-${i}` });
    for (let i = 0; i < repeat; i++) {
      log(`run ${i + 1}: the image as compose runs it`);
      runs.image.push(await imageRun(image, windowS, settleS));
      log(`run ${i + 1}: deno task start`);
      runs.task.push(await startTaskRun(windowS, settleS));
    }
  } finally {
    await scope.cleanup();
  }
  const row = (what: string, r: typeof runs.image) =>
    `| ${what} | ${r.map((x) => x.source).join(", ")} | ${median(r.map((x) => x.rssMiB)).toFixed(1)} MiB (${
      r.map((x) => x.rssMiB.toFixed(1)).join(", ")
    }) | ${median(r.map((x) => x.cpuPercent)).toFixed(2)} % (${r.map((x) => x.cpuPercent.toFixed(2)).join(", ")}) | ${
      median(r.map((x) => x.collectionMs)).toFixed(1)
    } ms |`;
  console.log([
    `${machine()}; 100 idle containers; one gzip scrape every 15 s; ${windowS} s windows after ${settleS} s; ${repeat} alternating runs`,
    "",
    "| how it runs | resource source | RSS, median (runs) | idle CPU, median (runs) | one collection of 100 |",
    "| --- | --- | --- | --- | --- |",
    row("the image as compose.yaml runs it", runs.image),
    row("`deno task start`", runs.task),
  ].join("\n"));
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
