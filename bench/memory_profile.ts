/**
 * Where the exporter's memory goes at scale: the exporter wired in a child process (as main.ts wires it, with
 * resource metrics off) on the synthetic engine, plus debug routes. After the initial sync, the first gzip
 * scrape, gzip load as the `scale` scenario makes it, and plain scrapes, it prints RSS (anonymous and
 * file-backed), the peak, V8's heap used/committed before and after a forced full GC, external memory, the
 * heap spaces, and resident anonymous memory by mapping (`[heap]` is glibc's main malloc arena).
 *
 *   deno run -A bench/memory_profile.ts [--containers 10000] [--v8-flags=--expose-gc,...] [--trim] [--during]
 *                                       [--snapshots DIR]
 *
 * `--v8-flags` replaces the child's V8 flags (keep `--expose-gc` in them); `--trim` also shows anonymous memory
 * after glibc's malloc_trim(0), i.e. how much of the malloc arena is free but still resident (it trims, so later
 * stages start trimmed); `--during` samples memory every 250 ms while the sync runs; `--snapshots` writes a V8
 * heap snapshot per stage (writing one grows the process's memory itself).
 */
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import { parseConfig } from "../lib/config/settings.ts";
import { buildExporter } from "../lib/exporter.ts";
import { loadDockerode } from "../lib/docker/dockerode.ts";
import { silentLogger } from "../lib/shared/logger.ts";
import { createProcessReader } from "../lib/metrics/process.ts";
import { load, sleep } from "./support.ts";
import { SyntheticEngine } from "./synthetic_engine.ts";
import { freePort } from "../tests/support/exporter.ts";

declare const gc: (() => void) | undefined;

/** Child: serve the exporter on 127.0.0.1 plus /debug/memory and /debug/snapshot. */
async function child(port: number, dockerHost: string): Promise<void> {
  const env: Record<string, string> = {
    DOCKER_HOST: dockerHost,
    EXPORTER_RESOURCE_METRICS: "off",
    EXPORTER_LOG_LEVEL: "warn",
  };
  const command = parseConfig([], (name) => env[name]);
  if (command.kind !== "run") throw new Error("unexpected command");
  const shutdown = new AbortController();
  const exporter = buildExporter(command.config, {
    logger: silentLogger,
    now: Date.now,
    readProcess: createProcessReader(),
    signal: shutdown.signal,
    Docker: await loadDockerode(),
  });
  const running = exporter.run();
  const server = Deno.serve({ hostname: "127.0.0.1", port, signal: shutdown.signal, onListen: () => {} }, (request) => {
    const url = new URL(request.url);
    if (url.pathname === "/debug/memory") {
      const before = Deno.memoryUsage();
      if (url.searchParams.has("gc")) gc?.();
      const after = Deno.memoryUsage();
      if (url.searchParams.has("trim")) mallocTrim();
      const status = Deno.readTextFileSync("/proc/self/status");
      const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
      return Response.json({
        before,
        after,
        rssAnon: kib("RssAnon") * 1024,
        rssFile: kib("RssFile") * 1024,
        hwm: kib("VmHWM") * 1024,
        regions: anonRegions(),
        spaces: v8.getHeapSpaceStatistics(),
        stats: v8.getHeapStatistics(),
      });
    }
    if (url.pathname === "/debug/snapshot") {
      return new Response(v8.writeHeapSnapshot(url.searchParams.get("file")!));
    }
    if (url.pathname === "/debug/stop") {
      shutdown.abort();
      return new Response("bye");
    }
    return exporter.handler(request);
  });
  await Promise.all([running, server.finished]);
}

let libc: Deno.DynamicLibrary<{ malloc_trim: { parameters: ["usize"]; result: "i32" } }> | undefined;

/** glibc's malloc_trim(0): hands freed heap memory back to the kernel; shows how much RSS is free malloc memory. */
function mallocTrim(): void {
  libc ??= Deno.dlopen("libc.so.6", { malloc_trim: { parameters: ["usize"], result: "i32" } });
  libc.symbols.malloc_trim(0n);
}

/** Resident anonymous memory by kind of mapping, from /proc/self/smaps, in bytes. */
function anonRegions(): Record<string, number> {
  const out: Record<string, number> = {};
  let kind = "";
  for (const line of Deno.readTextFileSync("/proc/self/smaps").split("\n")) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      const size = parseInt(head[2], 16) - parseInt(head[1], 16);
      const name = head[3];
      kind = name === ""
        ? (size >= 60 * 2 ** 20 ? "anon >= 60 MiB" : size >= 2 ** 20 ? "anon 1-60 MiB" : "anon < 1 MiB")
        : name.startsWith("/")
        ? ""
        : name;
      continue;
    }
    const rss = /^Anonymous:\s+(\d+) kB/.exec(line);
    if (rss && kind) out[kind] = (out[kind] ?? 0) + Number(rss[1]) * 1024;
  }
  return out;
}

const MiB = (bytes: number) => (bytes / 1048576).toFixed(1);

async function driver(args: string[]): Promise<void> {
  const option = (name: string) => {
    const at = args.indexOf(name);
    return at >= 0 ? args[at + 1] : undefined;
  };
  const containers = Number(option("--containers") ?? 10_000);
  const snapshots = option("--snapshots");
  const trim = args.includes("--trim");
  const v8Flags = args.filter((arg) => arg.startsWith("--v8-flags="));
  const engine = await SyntheticEngine.start({ containers });
  const port = freePort();
  const proc = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...(v8Flags.length ? v8Flags : ["--v8-flags=--expose-gc"]),
      fileURLToPath(import.meta.url),
      "--child",
      String(port),
      `unix://${engine.path}`,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const base = `http://127.0.0.1:${port}`;
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const response = await fetch(base + path, { headers });
    return await response.arrayBuffer();
  };
  const rows: string[] = [];
  const stage = async (name: string) => {
    const m = JSON.parse(new TextDecoder().decode(await get("/debug/memory?gc"))) as {
      before: Deno.MemoryUsage;
      after: Deno.MemoryUsage;
      rssAnon: number;
      rssFile: number;
      hwm: number;
      regions: Record<string, number>;
      spaces: { space_name: string; space_size: number; space_used_size: number; physical_space_size: number }[];
      stats: { malloced_memory: number; external_memory: number };
    };
    rows.push(
      `| ${name} | ${MiB(m.before.rss)} | ${MiB(m.rssAnon)} | ${MiB(m.rssFile)} | ${MiB(m.hwm)} | ${
        MiB(m.before.heapUsed)
      } / ${MiB(m.before.heapTotal)} | ${MiB(m.after.heapUsed)} / ${MiB(m.after.heapTotal)} | ${
        MiB(m.after.external)
      } | ${MiB(m.stats.malloced_memory)} |`,
    );
    console.error(rows.at(-1));
    console.error(
      "   spaces:",
      m.spaces.filter((x) => x.space_size > 0).map((x) =>
        `${x.space_name} ${MiB(x.space_used_size)}/${MiB(x.physical_space_size)}`
      ).join(", "),
    );
    console.error("   regions:", Object.entries(m.regions).map(([k, v]) => `${k} ${MiB(v)}`).join(", "));
    if (trim) {
      const t = JSON.parse(new TextDecoder().decode(await get("/debug/memory?trim"))) as { rssAnon: number };
      console.error(`   after malloc_trim(0): anon ${MiB(t.rssAnon)} MiB`);
    }
    if (snapshots) await get(`/debug/snapshot?file=${snapshots}/${name.replace(/\W+/g, "_")}.heapsnapshot`);
  };
  try {
    const t0 = performance.now();
    while (true) {
      try {
        const response = await fetch(`${base}/readyz`);
        await response.body?.cancel();
        if (response.status === 200) break;
        if (args.includes("--during")) {
          const m = JSON.parse(new TextDecoder().decode(await get("/debug/memory"))) as {
            before: Deno.MemoryUsage;
            rssAnon: number;
            regions: Record<string, number>;
          };
          console.error(
            `   ${(performance.now() - t0).toFixed(0)} ms: anon ${MiB(m.rssAnon)}, malloc heap ${
              MiB(m.regions["[heap]"] ?? 0)
            }, V8 ${MiB(m.before.heapUsed)}/${MiB(m.before.heapTotal)}, external ${MiB(m.before.external)}`,
          );
          await sleep(230);
        }
      } catch { /* not yet */ }
      await sleep(20);
    }
    console.error(`ready after ${(performance.now() - t0).toFixed(0)} ms`);
    await sleep(1000);
    await stage("after sync");
    await get("/metrics", { "Accept-Encoding": "gzip" });
    await stage("after first gzip scrape");
    for (let i = 0; i < 200; i++) await get("/metrics", { "Accept-Encoding": "gzip" });
    await stage("after 200 gzip scrapes");
    // As bench/run.ts's scale scenario loads it: one scraper flat out, then ten.
    await load(`${base}/metrics`, { connections: 1, seconds: 5, gzip: true });
    await stage("after 5 s of one gzip scraper");
    await load(`${base}/metrics`, { connections: 10, seconds: 5, gzip: true });
    await stage("after 5 s of ten gzip scrapers");
    await get("/metrics");
    await stage("after one plain scrape");
    for (let i = 0; i < 20; i++) await get("/metrics");
    await stage("after 20 plain scrapes");
    await get("/debug/stop");
  } finally {
    await proc.status;
    engine.close();
  }
  console.log(
    "| stage | RSS | anon | file | HWM | heap used/total before GC | after GC | external | malloced |\n" +
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n" + rows.join("\n"),
  );
}

if (import.meta.main) {
  if (Deno.args[0] === "--child") await child(Number(Deno.args[1]), Deno.args[2]);
  else await driver(Deno.args);
}
