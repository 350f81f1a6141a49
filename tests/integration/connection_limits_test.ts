/**
 * The exporter process (the start task's permissions, 127.0.0.1 only) against idle and half-open connections,
 * as a small container or systemd unit runs it: under an open-files limit of 256, soft and hard (Deno raises its
 * soft limit to the hard one, so only both together make a low limit). The engine is the scripted fake engine.
 * Everything is bounded and stops by itself.
 */
import assert from "node:assert/strict";
import { type BenchExporter, startBenchExporter } from "../../bench/support.ts";
import { runCommand, waitFor } from "../support/docker.ts";
import { findSamples, parseSamples, sampleValue } from "../support/exporter.ts";
import { fakeContainer, FakeEngine } from "../support/fake_engine.ts";

const CONTAINERS = 5;
const IDS = Array.from({ length: CONTAINERS }, (_, i) => `${i}`.repeat(64)).sort();
const FILE_LIMIT = 256;
const encoder = new TextEncoder();

async function withExporter(
  env: Record<string, string>,
  run: (exporter: BenchExporter) => Promise<void>,
): Promise<void> {
  const engine = await FakeEngine.start();
  for (const [i, id] of IDS.entries()) engine.add(fakeContainer(id, `limits-${i}`));
  try {
    await using exporter = await startBenchExporter({
      socket: engine.path,
      env: { EXPORTER_REFRESH_INTERVAL: "1m", EXPORTER_STALE_AFTER: "2m", ...env },
      fileLimit: FILE_LIMIT,
      readyTimeoutMs: 20_000,
    });
    await run(exporter);
    assert.equal(await running(exporter), true, `the exporter exited:\n${exporter.stderr}`);
  } finally {
    engine.stop();
  }
}

async function running(exporter: BenchExporter): Promise<boolean> {
  const sleep = new Promise((resolve) => setTimeout(() => resolve("running"), 10));
  return await Promise.race([exporter.child.status.then(() => "exited"), sleep]) === "running";
}

/** A scrape as Prometheus makes it, within its default 10 s timeout: 200, the engine up, every container there. */
async function assertNormalScrape(exporter: BenchExporter, when: string): Promise<string> {
  const response = await fetch(`${exporter.url}/metrics`, {
    headers: { "Accept-Encoding": "gzip" },
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  assert.equal(response.status, 200, when);
  const samples = parseSamples(text);
  assert.equal(sampleValue(samples, "docker_up"), 1, when);
  assert.deepEqual(findSamples(samples, "docker_container_info").map((s) => s.labels.id).sort(), IDS, when);
  return text;
}

/** 1,000 connections to the exporter that send nothing, held open by this process until closed. */
async function holdIdleConnections(exporter: BenchExporter): Promise<Deno.TcpConn[]> {
  const conns: Deno.TcpConn[] = [];
  for (let i = 0; i < 1000; i += 100) {
    conns.push(
      ...await Promise.all(
        Array.from({ length: 100 }, () => Deno.connect({ hostname: "127.0.0.1", port: exporter.port })),
      ),
    );
  }
  return conns;
}

function closeAll(conns: Deno.Conn[]): void {
  for (const conn of conns) {
    try {
      conn.close();
    } catch { /* closed already */ }
  }
}

async function openFds(exporter: BenchExporter): Promise<number> {
  return (await runCommand("ls", ["-1", `/proc/${exporter.pid}/fd`])).split("\n").length;
}

Deno.test("under a 256-file limit, normal scrapes succeed while 1,000 idle connections are held", async () => {
  await withExporter({}, async (exporter) => {
    const conns = await holdIdleConnections(exporter);
    try {
      for (let i = 0; i < 5; i++) await assertNormalScrape(exporter, `scrape ${i + 1} among 1,000 idle connections`);
      assert.ok((await openFds(exporter)) < FILE_LIMIT);
    } finally {
      closeAll(conns);
    }
    const text = await assertNormalScrape(exporter, "after");
    // Each idle connection the exporter took went to make room for a newer one, or to the head timeout.
    const refusals = findSamples(parseSamples(text), "docker_exporter_http_refusals_total");
    const turnedAway = refusals.filter((s) =>
      ["evicted", "header_timeout", "connection_limit"].includes(s.labels.reason)
    )
      .reduce((sum, s) => sum + s.value, 0);
    assert.ok(turnedAway >= 1000 - 128, `only ${turnedAway} idle connections were turned away`);
  });
});

Deno.test("a connection limit above the file limit: running out of descriptors is survived, counted and logged", async () => {
  await withExporter({ EXPORTER_MAX_CONNECTIONS: "1000" }, async (exporter) => {
    const conns = await holdIdleConnections(exporter);
    try {
      for (let i = 0; i < 5; i++) await assertNormalScrape(exporter, `scrape ${i + 1} with the descriptors used up`);
    } finally {
      closeAll(conns);
    }
    const samples = parseSamples(await assertNormalScrape(exporter, "after"));
    assert.ok(sampleValue(samples, "docker_exporter_http_accept_errors_total")! >= 1);
    const logs = exporter.stderr.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line));
    const lowered = logs.find((log) => log.msg === "out of file descriptors: lowering the connection limit");
    assert.ok(lowered, exporter.stderr);
    assert.ok(lowered.max_connections < FILE_LIMIT, JSON.stringify(lowered));
    // Logged at a bounded rate, not once per failed accept.
    const acceptLines = logs.filter((log) => log.msg.startsWith("cannot accept a connection"));
    assert.ok(acceptLines.length >= 1 && acceptLines.length <= 5, `${acceptLines.length} lines`);
  });
});

Deno.test("a connection that never sends a request, or half a head, is closed by the exporter", async () => {
  await withExporter({}, async (exporter) => {
    const silent = await Deno.connect({ hostname: "127.0.0.1", port: exporter.port });
    const half = await Deno.connect({ hostname: "127.0.0.1", port: exporter.port });
    await half.write(encoder.encode("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Half: "));
    const ended = (conn: Deno.Conn) => {
      const buffer = new Uint8Array(4096);
      let text = "";
      return (async () => {
        try {
          for (let n; (n = await conn.read(buffer)) !== null;) text += new TextDecoder().decode(buffer.subarray(0, n));
        } catch { /* reset */ }
        return text;
      })();
    };
    const timer = setTimeout(() => closeAll([silent, half]), 15_000);
    try {
      // The exporter's head timeout is 5 s; 15 s bounds the wait should it never close them.
      const [silentText, halfText] = await Promise.all([ended(silent), ended(half)]);
      assert.equal(silentText, "");
      assert.match(halfText, /^HTTP\/1\.1 408 Request Timeout\r\n/);
    } finally {
      clearTimeout(timer);
      closeAll([silent, half]);
    }
    await waitFor(
      async () => {
        const samples = parseSamples(await assertNormalScrape(exporter, "after"));
        return sampleValue(samples, "docker_exporter_http_refusals_total", { reason: "header_timeout" }) === 2;
      },
      5000,
      "both to be counted as header timeouts",
    );
  });
});
