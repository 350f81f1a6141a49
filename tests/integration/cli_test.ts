/**
 * The exporter's command line as an operator meets it, run as a subprocess with the `start` task's
 * permissions: bad settings, --help, --version, signals, and an engine that is not there.
 * None of these needs Docker.
 */
import assert from "node:assert/strict";
import { SETTINGS } from "../../lib/config/settings.ts";
import { VERSION } from "../../lib/shared/version.ts";
import { parseSamples, runExporterCommand, sampleValue, startExporter } from "../support/exporter.ts";
import { waitFor } from "../support/docker.ts";

/** A socket path that does not exist; the permission flags are pointed at it too. */
const MISSING_SOCKET = "/nonexistent.sock";

const badSettings: { name: string; args?: string[]; env?: Record<string, string>; names: string }[] = [
  { name: "EXPORTER_PORT=abc", env: { EXPORTER_PORT: "abc" }, names: 'EXPORTER_PORT="abc"' },
  { name: "--port 70000", args: ["--port", "70000"], names: '--port="70000"' },
  {
    name: "EXPORTER_REFRESH_INTERVAL=fast",
    env: { EXPORTER_REFRESH_INTERVAL: "fast" },
    names: 'EXPORTER_REFRESH_INTERVAL="fast"',
  },
  { name: "EXPORTER_LOG_LEVEL=loud", env: { EXPORTER_LOG_LEVEL: "loud" }, names: 'EXPORTER_LOG_LEVEL="loud"' },
  { name: "DOCKER_HOST=http://x", env: { DOCKER_HOST: "http://x" }, names: 'DOCKER_HOST="http://x"' },
  {
    name: "EXPORTER_EXCLUDE_CONTAINERS=label:team",
    env: { EXPORTER_EXCLUDE_CONTAINERS: "label:team" },
    names: 'EXPORTER_EXCLUDE_CONTAINERS has "label:team",',
  },
  { name: "--include-containers /db", args: ["--include-containers", "/db"], names: '--include-containers has "/db",' },
];

for (const bad of badSettings) {
  Deno.test(`${bad.name} exits with status 2 and one line naming the setting`, async () => {
    const { code, stdout, stderr } = await runExporterCommand(bad.args ?? [], bad.env ?? {});
    assert.equal(code, 2, `exit status ${code}; stderr:\n${stderr}`);
    assert.equal(stdout, "");
    const lines = stderr.split("\n");
    assert.equal(lines.pop(), "", "stderr does not end with a newline");
    assert.equal(lines.length, 1, `stderr has ${lines.length} lines:\n${stderr}`);
    assert.ok(
      lines[0].startsWith(`docker-exporter: ${bad.names} `),
      `the line does not start with "docker-exporter: ${bad.names} ": ${lines[0]}`,
    );
    assert.doesNotMatch(lines[0], /\bat .*:\d+:\d+|Error:/, "the line looks like a stack trace");
  });
}

Deno.test("--help lists every setting with its flag and environment variable", async () => {
  const { code, stdout, stderr } = await runExporterCommand(["--help"]);
  assert.equal(code, 0);
  assert.equal(stderr, "");
  // The settings operators already rely on must stay; every setting config.ts knows must be documented.
  const known = [
    ["--port", "EXPORTER_PORT"],
    ["--host", "EXPORTER_HOST"],
    ["--docker-host", "DOCKER_HOST"],
    ["--refresh-interval", "EXPORTER_REFRESH_INTERVAL"],
    ["--stale-after", "EXPORTER_STALE_AFTER"],
    ["--log-level", "EXPORTER_LOG_LEVEL"],
    ["--container-labels", "EXPORTER_CONTAINER_LABELS"],
  ];
  const settings = SETTINGS.map((s) => [s.flag, s.env]);
  for (const pair of known) assert.ok(settings.some(([flag, env]) => flag === pair[0] && env === pair[1]), `${pair}`);
  const lines = stdout.split("\n");
  for (const setting of SETTINGS) {
    const line = lines.find((l) => l.trimStart().startsWith(`${setting.flag} `));
    assert.ok(line, `--help has no line for ${setting.flag}:\n${stdout}`);
    assert.ok(
      line.trim().split(/\s+/)[1] === setting.env,
      `the ${setting.flag} line does not name ${setting.env} next: ${line}`,
    );
    assert.ok(
      line.endsWith(`(default ${JSON.stringify(setting.default)})`),
      `the ${setting.flag} line lacks its default`,
    );
  }
  for (const flag of ["--healthcheck", "--help", "--version"]) {
    assert.ok(lines.some((l) => l.trimStart().startsWith(`${flag} `)), `--help does not list ${flag}`);
  }
});

Deno.test("--version prints the version from lib/shared/version.ts", async () => {
  const { code, stdout, stderr } = await runExporterCommand(["--version"]);
  assert.equal(code, 0);
  assert.equal(stderr, "");
  assert.equal(stdout, `docker-exporter ${VERSION} (deno ${Deno.version.deno})\n`);
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`${signal} shuts the exporter down with exit status 0 within 3 s`, async () => {
    await using exporter = await startExporter({ dockerSocket: MISSING_SOCKET, waitFor: "healthz" });
    await exporter.stop(signal, 3000);
    const shutdown = exporter.logs().filter((entry) => entry.msg === "shutting down");
    assert.deepEqual(shutdown.map((entry) => entry.signal), [signal]);
  });
}

Deno.test("with no engine at DOCKER_HOST the exporter keeps serving, is not ready, and logs the error once", async () => {
  await using exporter = await startExporter({ dockerSocket: MISSING_SOCKET, waitFor: "healthz" });
  const healthz = await exporter.get("/healthz");
  assert.deepEqual([healthz.status, healthz.text], [200, "ok\n"]);

  // Over about three seconds the backoff (250 ms, doubling) retries several times.
  const started = performance.now();
  await waitFor(
    async () => {
      const samples = parseSamples(await exporter.scrape());
      return (sampleValue(samples, "docker_exporter_engine_api_errors_total", { operation: "version" }) ?? 0) >= 3;
    },
    10_000,
    "three failed attempts to reach Docker",
  );
  while (performance.now() - started < 3000) await new Promise((resolve) => setTimeout(resolve, 100));

  const readyz = await exporter.get("/readyz");
  assert.equal(readyz.status, 503);
  const samples = parseSamples(await exporter.scrape());
  assert.equal(sampleValue(samples, "docker_up"), 0);
  assert.ok((sampleValue(samples, "docker_exporter_event_stream_reconnects_total") ?? 0) >= 3);

  await exporter.stop();
  const unreachable = exporter.logs().filter((entry) => entry.level === "error");
  assert.deepEqual(unreachable, [{
    ts: unreachable[0]?.ts,
    level: "error",
    msg: "Docker is unreachable; retrying",
    error: `Cannot connect to Docker at unix://${MISSING_SOCKET}: no such socket (is Docker running?)`,
  }]);
});
