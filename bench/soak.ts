/**
 * The hostile soak: the exporter (the start task's permissions, basic auth at bcrypt cost 10, an open-files limit of
 * 256 soft and hard) on a synthetic engine of 100 containers, for `--minutes` (default 10) while at once
 * - 1,000 connections are held open that never send a request, each opened again as soon as the exporter closes it;
 * - 40 clients send wrong passwords as fast as they are answered;
 * - one Prometheus-like client scrapes with the right password every second.
 * The attackers run in a process of their own, as they would on another host: sharing this one's event loop, they
 * would delay the good client's own request, not the exporter's answer.
 * It reports the good scrapes' latency (p50, p99, worst), how many failed, the bad clients' answers, the exporter's
 * resident memory before, during and after, and its refusal counters. Everything targets 127.0.0.1 and stops by itself.
 *
 *   deno run -A bench/soak.ts [--minutes 10]
 */
import bcrypt from "bcryptjs";
import { type BenchExporter, machine, median, quantile, sleep, startBenchExporter } from "./support.ts";
import { SyntheticEngine } from "./synthetic_engine.ts";

const CONTAINERS = 100;
const IDLE_CONNECTIONS = 1000;
const BAD_CLIENTS = 40;
const FILE_LIMIT = 256;
const USER = "prometheus";
const PASSWORD = "soak-password";

const log = (message: string) => console.error(`[soak ${new Date().toISOString().slice(11, 19)}] ${message}`);

function basic(user: string, password: string): string {
  return `Basic ${btoa(`${user}:${password}`)}`;
}

/** Keeps `count` connections open that send nothing, reopening each one the exporter closes, until `stop`. */
async function holdIdle(port: number, count: number, stop: AbortSignal): Promise<{ opened: number }> {
  const tally = { opened: 0 };
  const open = new Set<Deno.Conn>();
  stop.addEventListener("abort", () => {
    for (const conn of open) {
      try {
        conn.close();
      } catch { /* closed already */ }
    }
  });
  await Promise.all(Array.from({ length: count }, async () => {
    const buffer = new Uint8Array(1024);
    while (!stop.aborted) {
      let conn: Deno.Conn;
      try {
        conn = await Deno.connect({ hostname: "127.0.0.1", port });
      } catch {
        await sleep(100);
        continue;
      }
      tally.opened++;
      open.add(conn);
      try {
        while ((await conn.read(buffer)) !== null) { /* a 503 or 408, then the close */ }
      } catch { /* reset by the exporter, or closed at the end */ }
      open.delete(conn);
      try {
        conn.close();
      } catch { /* closed already */ }
      // Not a hot loop: the exporter's refusals are immediate.
      await sleep(20);
    }
  }));
  return tally;
}

/** `clients` loops sending wrong passwords until `stop`; counts the answers by status ("failed" for no answer). */
async function badAuth(url: string, clients: number, stop: AbortSignal): Promise<Map<string, number>> {
  const answers = new Map<string, number>();
  const count = (key: string) => answers.set(key, (answers.get(key) ?? 0) + 1);
  await Promise.all(Array.from({ length: clients }, async (_, i) => {
    while (!stop.aborted) {
      try {
        const response = await fetch(`${url}/metrics`, {
          headers: { Authorization: basic(i % 2 === 0 ? USER : `intruder${i}`, `wrong-${i}-${Math.random()}`) },
          signal: AbortSignal.timeout(10_000),
        });
        await response.body?.cancel();
        count(String(response.status));
      } catch {
        count("failed");
        await sleep(20);
      }
    }
  }));
  return answers;
}

/** Scrapes every second with the right password until `stop`; each scrape's milliseconds, or "failed". */
async function goodScrapes(url: string, stop: AbortSignal): Promise<{ latencies: number[]; failures: string[] }> {
  const latencies: number[] = [];
  const failures: string[] = [];
  while (!stop.aborted) {
    const started = performance.now();
    try {
      const response = await fetch(`${url}/metrics`, {
        headers: { Authorization: basic(USER, PASSWORD), "Accept-Encoding": "gzip" },
        signal: AbortSignal.timeout(10_000),
      });
      const text = await response.text();
      if (response.status !== 200 || !text.includes("docker_up 1")) failures.push(`status ${response.status}`);
      else latencies.push(performance.now() - started);
    } catch (error) {
      failures.push((error as Error).message.slice(0, 120));
    }
    await sleep(Math.max(0, 1000 - (performance.now() - started)));
  }
  return { latencies, failures };
}

async function refusals(exporter: BenchExporter): Promise<string> {
  const response = await fetch(`${exporter.url}/metrics`, { headers: { Authorization: basic(USER, PASSWORD) } });
  const text = await response.text();
  return text.split("\n")
    .filter((line) => /^docker_exporter_http_(refusals_total|accept_errors_total|auth_failures_total)/.test(line))
    .join("; ");
}

/** The attacker process: `--attack URL SECONDS`; prints its tallies as JSON when the time is up. */
async function attack(url: string, seconds: number): Promise<void> {
  const stop = new AbortController();
  setTimeout(() => stop.abort(), seconds * 1000);
  const [idle, bad] = await Promise.all([
    holdIdle(Number(new URL(url).port), IDLE_CONNECTIONS, stop.signal),
    badAuth(url, BAD_CLIENTS, stop.signal),
  ]);
  console.log(JSON.stringify({ opened: idle.opened, answers: Object.fromEntries(bad) }));
}

async function main(args: string[]): Promise<number> {
  if (args[0] === "--attack") {
    await attack(args[1], Number(args[2]));
    return 0;
  }
  const at = args.indexOf("--minutes");
  const minutes = at >= 0 ? Number(args[at + 1]) : 10;
  log(`machine: ${machine()}; ${minutes} minutes`);
  const engine = await SyntheticEngine.start({ containers: CONTAINERS });
  const dir = await Deno.makeTempDir({ prefix: "soak-web-" });
  const webConfig = `${dir}/web.yml`;
  await Deno.writeTextFile(webConfig, `basic_auth_users:\n  ${USER}: ${bcrypt.hashSync(PASSWORD, 10)}\n`);
  try {
    await using exporter = await startBenchExporter({
      socket: engine.path,
      env: { EXPORTER_RESOURCE_METRICS: "off", EXPORTER_LOG_LEVEL: "warn", EXPORTER_WEB_CONFIG_FILE: webConfig },
      startFlags: (flags) => flags.map((flag) => flag.startsWith("--allow-read=") ? `${flag},${dir}` : flag),
      fileLimit: FILE_LIMIT,
      readyHeaders: { Authorization: basic(USER, PASSWORD) },
    });
    // Warm up: the first scrapes, and the first (uncached) password check.
    for (let i = 0; i < 5; i++) {
      const response = await fetch(`${exporter.url}/metrics`, { headers: { Authorization: basic(USER, PASSWORD) } });
      await response.text();
    }
    const before = exporter.memory().rssMiB;
    const stop = new AbortController();
    const rss: number[] = [];
    const sampler = setInterval(() => rss.push(exporter.memory().rssMiB), 10_000);
    const attacker = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL(import.meta.url).pathname, "--attack", exporter.url, String(minutes * 60)],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    const good = goodScrapes(exporter.url, stop.signal);
    const attacked = await attacker;
    stop.abort();
    clearInterval(sampler);
    const goodResult = await good;
    const tally = JSON.parse(new TextDecoder().decode(attacked.stdout)) as { opened: number; answers: unknown };
    const endOfAttack = exporter.memory().rssMiB;
    await sleep(30_000);
    const after = exporter.memory().rssMiB;
    const { latencies, failures } = goodResult;
    const running = await Promise.race([exporter.child.status.then(() => false), sleep(10).then(() => true)]);
    const lines = [
      `| figure | value |`,
      `| --- | --- |`,
      `| minutes | ${minutes} |`,
      `| exporter still running | ${running} |`,
      `| good scrapes (one a second, right password) | ${latencies.length} ok, ${failures.length} failed |`,
      `| good scrape p50 / p99 / worst | ${median(latencies).toFixed(1)} / ${quantile(latencies, 0.99).toFixed(1)} / ${
        Math.max(...latencies).toFixed(1)
      } ms |`,
      `| bad-password answers (40 clients) | ${JSON.stringify(tally.answers)} |`,
      `| idle connections opened (1,000 held at once) | ${tally.opened} |`,
      `| RSS before / peak during / end of attack / 30 s after | ${before.toFixed(1)} / ${
        Math.max(...rss, endOfAttack).toFixed(1)
      } / ${endOfAttack.toFixed(1)} / ${after.toFixed(1)} MiB |`,
      `| exporter counters | ${await refusals(exporter)} |`,
    ];
    if (failures.length > 0) lines.push(`\nFailed good scrapes (first 5): ${failures.slice(0, 5).join("; ")}`);
    console.log(lines.join("\n"));
    return 0;
  } finally {
    engine.close();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
