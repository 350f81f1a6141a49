/**
 * What a disk usage collection (`GET /system/df`) costs, on the engine at /var/run/docker.sock and in the exporter.
 *
 * 1. The engine: collections through the exporter's own `DockerApi.diskUsage()`, first on the host as it is, then
 *    with N more containers (`docker create --network none` of the busybox test image, names under a unique
 *    `itest-dfbench-` prefix, removed at the end), never started; with FILES > 0, each is then run once to write that
 *    many small files into its writable layer, which the engine walks on every collection: wall time, the answer's
 *    size, the exporter's CPU, and the CPU the engine's processes (dockerd, containerd) spent meanwhile.
 * 2. The exporter: decoding a synthetic answer of 1,000 images, 1,000 containers and 200 volumes, fed in the 64 KiB
 *    pieces the socket hands over: the longest any one piece holds the event loop (a scrape waits at most that long),
 *    and the whole, against one `JSON.parse` of the same text.
 *
 * `deno run -A bench/disk_usage.ts [N=100] [rounds=10] [FILES=0]`
 */
import { cpuUsage } from "node:process";
import { createDockerApi } from "../lib/docker/api.ts";
import { DiskUsageDecoder } from "../lib/docker/disk_usage.ts";
import { loadDockerode } from "../lib/docker/dockerode.ts";
import { ContainerScope, docker, DOCKER_SOCKET, ensureTestImage } from "../tests/support/docker.ts";
import { engineCpuSeconds, loadAverage, machine, median, quantile } from "./support.ts";

const N = Number(Deno.args[0] ?? 100);
const ROUNDS = Number(Deno.args[1] ?? 10);
const FILES = Number(Deno.args[2] ?? 0);
const PIECE_BYTES = 64 * 1024;

function summary(values: number[], digits = 0): string {
  return `median ${median(values).toFixed(digits)}, p90 ${quantile(values, 0.9).toFixed(digits)}, max ${
    Math.max(...values).toFixed(digits)
  }`;
}

/** The bytes of one `/system/df` answer, as the engine sends it. */
async function answerBytes(apiVersion: string): Promise<number> {
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path: DOCKER_SOCKET } });
  try {
    return (await (await fetch(`http://docker/v${apiVersion}/system/df`, { client })).arrayBuffer()).byteLength;
  } finally {
    client.close();
  }
}

async function collections(label: string): Promise<void> {
  const api = createDockerApi({ kind: "unix", path: DOCKER_SOCKET, url: `unix://${DOCKER_SOCKET}` }, {
    Docker: await loadDockerode(),
    timeoutMs: 10_000,
  });
  try {
    const apiVersion = (await api.version()).ApiVersion;
    api.useApiVersion(apiVersion);
    const wall: number[] = [];
    const cpu: number[] = [];
    const engine: number[] = [];
    let containers = 0;
    await api.diskUsage();
    for (let i = 0; i < ROUNDS; i++) {
      const engineBefore = engineCpuSeconds();
      const before = cpuUsage();
      const started = performance.now();
      const usage = await api.diskUsage();
      wall.push(performance.now() - started);
      const used = cpuUsage(before);
      cpu.push((used.user + used.system) / 1000);
      engine.push((engineCpuSeconds() - engineBefore) * 1000);
      containers = usage.containers.length;
    }
    console.log(`\n${label}: ${containers} containers, an answer of ${await answerBytes(apiVersion)} bytes`);
    console.log(`  wall ms:                  ${summary(wall, 1)}`);
    console.log(`  exporter CPU ms:          ${summary(cpu, 1)}`);
    console.log(`  engine CPU ms (10 ms ticks): ${summary(engine)}`);
  } finally {
    api.close();
  }
}

/** A `/system/df` answer of Docker 20.10's shape, with entries as large as Compose's and labelled images make them. */
function syntheticAnswer(images: number, containers: number, volumes: number): string {
  const hex = (i: number, salt: string) => (salt + i.toString(16)).padStart(64, "0");
  const labels = (i: number) =>
    Object.fromEntries(
      ["config-hash", "container-number", "oneoff", "project", "service", "version", "project.working_dir"].map(
        (key) => [`com.docker.compose.${key}`, `${key}-value-${i}`],
      ),
    );
  return JSON.stringify({
    LayersSize: 123_456_789_012,
    Images: Array.from({ length: images }, (_, i) => ({
      Containers: i % 3,
      Created: 1_796_000_000 + i,
      Id: `sha256:${hex(i, "1")}`,
      Labels: { "org.opencontainers.image.source": `https://example.com/app-${i}`, maintainer: "ops@example.com" },
      ParentId: "",
      RepoDigests: [`registry.example.com/app-${i}@sha256:${hex(i, "2")}`],
      RepoTags: i % 10 === 0 ? ["<none>:<none>"] : [`registry.example.com/app-${i}:1.${i}`],
      SharedSize: 80_000_000,
      Size: 120_000_000 + i,
      VirtualSize: 120_000_000 + i,
    })),
    Containers: Array.from({ length: containers }, (_, i) => ({
      Id: hex(i, "3"),
      Names: [`/shop-web-${i}`],
      Image: `registry.example.com/app-${i % images}:1.${i}`,
      ImageID: `sha256:${hex(i % images, "1")}`,
      Command: "/docker-entrypoint.sh nginx -g 'daemon off;'",
      Created: 1_796_000_000 + i,
      Ports: [],
      SizeRw: 4096 * i,
      SizeRootFs: 120_000_000 + 4096 * i,
      Labels: labels(i),
      State: "running",
      Status: "Up 3 days",
      HostConfig: { NetworkMode: "none" },
      NetworkSettings: {
        Networks: {
          none: {
            IPAMConfig: null,
            Links: null,
            Aliases: null,
            NetworkID: hex(1, "4"),
            EndpointID: hex(i, "5"),
            Gateway: "",
            IPAddress: "",
            IPPrefixLen: 0,
            IPv6Gateway: "",
            GlobalIPv6Address: "",
            GlobalIPv6PrefixLen: 0,
            MacAddress: "",
            DriverOpts: null,
          },
        },
      },
      Mounts: [{
        Type: "volume",
        Name: `data-${i % volumes}`,
        Source: `/var/lib/docker/volumes/data-${i % volumes}/_data`,
        Destination: "/data",
        Driver: "local",
        Mode: "z",
        RW: true,
        Propagation: "",
      }],
    })),
    Volumes: Array.from({ length: volumes }, (_, i) => ({
      CreatedAt: "2026-11-20T10:00:00Z",
      Driver: "local",
      Labels: { "com.docker.compose.project": "shop", "com.docker.compose.volume": `data-${i}` },
      Mountpoint: `/var/lib/docker/volumes/data-${i}/_data`,
      Name: `data-${i}`,
      Options: null,
      Scope: "local",
      UsageData: { RefCount: 5, Size: 1_000_000 * i },
    })),
    BuildCache: [],
    BuilderSize: 0,
  });
}

function decoding(): void {
  const text = syntheticAnswer(1000, 1000, 200);
  const bytes = new TextEncoder().encode(text);
  const whole: number[] = [];
  const longestPiece: number[] = [];
  const parse: number[] = [];
  for (let round = 0; round < 20; round++) {
    const decoder = new DiskUsageDecoder(false);
    let longest = 0;
    const started = performance.now();
    for (let at = 0; at < bytes.length; at += PIECE_BYTES) {
      const pieceStarted = performance.now();
      decoder.push(bytes.subarray(at, at + PIECE_BYTES));
      longest = Math.max(longest, performance.now() - pieceStarted);
    }
    decoder.end();
    whole.push(performance.now() - started);
    longestPiece.push(longest);
    const parseStarted = performance.now();
    JSON.parse(new TextDecoder().decode(bytes));
    parse.push(performance.now() - parseStarted);
  }
  console.log(`\ndecoding a synthetic answer of 1,000 images, 1,000 containers, 200 volumes: ${bytes.length} bytes`);
  console.log(`  in 64 KiB pieces, whole ms:   ${summary(whole, 1)}`);
  console.log(`  longest single piece, ms:     ${summary(longestPiece, 2)}`);
  console.log(`  one JSON.parse of it all, ms: ${summary(parse, 1)} (what a scrape would wait for)`);
}

console.log(`disk usage cost on ${machine()}, load ${loadAverage()}`);
decoding();
await collections("the host as it is");
await ensureTestImage();
const scope = new ContainerScope("dfbench");
console.log(`\ncreating ${N} containers named ${scope.prefix}-*`);
try {
  const write = `mkdir /files && cd /files && i=0; while [ $i -lt ${FILES} ]; do echo $i > $i; i=$((i+1)); done`;
  for (let i = 0; i < N; i += 10) {
    await Promise.all(Array.from({ length: Math.min(10, N - i) }, async (_, j) => {
      const { id } = await scope.create({ name: String(i + j), command: ["sh", "-c", write] });
      if (FILES > 0) await docker("start", "--attach", id);
    }));
  }
  await collections(`with ${N} more containers${FILES > 0 ? `, ${FILES} files in each one's writable layer` : ""}`);
} finally {
  await scope.cleanup();
}
