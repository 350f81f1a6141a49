/**
 * Least privilege. The exporter runs with the narrowest Deno permissions that work, and only reads from Docker:
 * - the start task's flags (held against lib/config/permissions.ts by tests/unit/config/permissions_test.ts)
 *   suffice against the real engine, and every one of them is needed: without any single one the exporter refuses
 *   to start, with exit status 2, one line naming the setting that needs it and the whole command that grants it
 *   (the data roots' read and statfs when EXPORTER_DATA_ROOT names one; else they are used if granted);
 * - that command runs, for a socket and a web config file the start task does not grant;
 * - the start task, unedited, serves an engine at `$XDG_RUNTIME_DIR/docker.sock` (rootless Docker);
 * - through a logging proxy in front of /var/run/docker.sock (bench/docker_proxy.ts), every request the
 *   exporter sends while containers start, stop, restart, die and are removed is a GET or HEAD of a read-only
 *   endpoint.
 */
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { DockerProxy } from "../../bench/docker_proxy.ts";
import { FakeEngine } from "../support/fake_engine.ts";
import {
  ContainerScope,
  docker,
  DOCKER_SOCKET,
  dockerTestsIgnored,
  ensureTestImage,
  waitFor,
} from "../support/docker.ts";
import {
  Exporter,
  findSamples,
  freePort,
  parseSamples,
  REPO_ROOT,
  runExporterCommand,
  sampleValue,
  startExporter,
  startTask,
  startTaskFlags,
  taskWords,
} from "../support/exporter.ts";

const ignore = await dockerTestsIgnored("least_privilege_test.ts");
const MAIN = fileURLToPath(new URL("main.ts", REPO_ROOT));

/** The socket path of the start task's first standard socket. */
const DEFAULT_SOCKET = "/var/run/docker.sock";

/** The words of a deno.json task between `deno <verb>` and `main.ts`, `$VAR`s expanded as `deno task` does. */
async function denoJsonTask(name: string): Promise<{ flags: string[] }> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", REPO_ROOT)));
  const { words } = taskWords(config.tasks[name]);
  return { flags: words.slice(2, words.indexOf("main.ts")) };
}

/** The start task's flags with one permission changed: `edit` returns the flag's new form, or undefined to drop it. */
async function flagsWith(edit: (flag: string) => string | undefined): Promise<string[]> {
  return (await startTaskFlags()).map(edit).filter((flag): flag is string => flag !== undefined);
}

/** Runs the exporter with `flags` on 127.0.0.1 (or `host`) and a free port; `Exporter` gives its logs and stop. */
function spawnExporter(
  flags: string[],
  host = "127.0.0.1",
  port = freePort(),
  extra: Record<string, string> = {},
): Exporter {
  const env = Deno.env.toObject();
  for (const name of Object.keys(env)) if (/^(EXPORTER_|DOCKER_)/.test(name)) delete env[name];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, MAIN],
    cwd: fileURLToPath(REPO_ROOT),
    clearEnv: true,
    env: { ...env, NO_COLOR: "1", EXPORTER_HOST: host, EXPORTER_PORT: String(port), ...extra },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return new Exporter(child, port);
}

/**
 * What the exporter writes when a permission its configuration needs is missing: one line naming the setting and
 * the access, then the whole command that grants it.
 */
function refusal(setting: string, access: string): RegExp {
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(
    `^docker-exporter: ${escape(setting)}: Deno has not granted the exporter ${escape(access)}; ` +
      "run it with the permissions this configuration needs:\n" +
      "MALLOC_ARENA_MAX=2 deno run --v8-flags=\\S+ --no-code-cache .+ \\S+/main\\.ts\n$",
  );
}

/** A variable the exporter may not read: one line naming the flag and a command that grants it, not a stack trace. */
const ENV_REFUSED =
  /^docker-exporter: cannot read EXPORTER_\w+ from the environment; grant --allow-env=DOCKER_HOST,EXPORTER_\*,LOG_TOKENS,LOG_STREAM,XDG_RUNTIME_DIR, as in:\nMALLOC_ARENA_MAX=2 deno run .+\n$/;

/** The socket the exporter falls back to, named as the message names it. */
const UNSET_HOST = `DOCKER_HOST unset, so unix://${DEFAULT_SOCKET}`;

/**
 * Each permission of the start task, dropped alone, and how the exporter refuses to start without it. None of these
 * needs a Docker engine: the exporter asks Deno what it was granted before opening anything.
 */
const withoutOne: {
  name: string;
  flags: () => Promise<string[]>;
  host?: string;
  env?: Record<string, string>;
  fails: (port: number) => RegExp;
}[] = [
  {
    name: "--allow-env",
    flags: () => flagsWith((f) => (f.startsWith("--allow-env") ? undefined : f)),
    fails: () => ENV_REFUSED,
  },
  {
    name: "--allow-env of EXPORTER_*",
    flags: () => flagsWith((f) => (f.startsWith("--allow-env") ? "--allow-env=DOCKER_HOST" : f)),
    fails: () => ENV_REFUSED,
  },
  {
    name: "--allow-read of the socket",
    flags: () => flagsWith((f) => (f.startsWith("--allow-read=") ? undefined : f)),
    fails: () => refusal(UNSET_HOST, `read access to ${DEFAULT_SOCKET}`),
  },
  {
    name: "--allow-write of the socket",
    flags: () => flagsWith((f) => (f.startsWith("--allow-write=") ? undefined : f)),
    fails: () => refusal(UNSET_HOST, `write access to ${DEFAULT_SOCKET}`),
  },
  {
    name: "--allow-net of the socket",
    flags: () => flagsWith((f) => f.replace(`unix:${DEFAULT_SOCKET},`, "")),
    fails: () => refusal(UNSET_HOST, `net access to unix:${DEFAULT_SOCKET}`),
  },
  {
    name: "--allow-net of 127.0.0.1",
    flags: () => flagsWith((f) => f.replace(",127.0.0.1", "")),
    fails: (port) => refusal(`EXPORTER_HOST=127.0.0.1 and EXPORTER_PORT=${port}`, `net access to 127.0.0.1:${port}`),
  },
  {
    name: "--allow-net of 0.0.0.0, the default listen address",
    flags: () => flagsWith((f) => f.replace(",0.0.0.0,", ",")),
    // Refused before binding, so nothing listens on 0.0.0.0 even for a moment.
    host: "0.0.0.0",
    fails: (port) => refusal(`EXPORTER_HOST=0.0.0.0 and EXPORTER_PORT=${port}`, `net access to 0.0.0.0:${port}`),
  },
  {
    name: "--allow-sys=statfs, with EXPORTER_DATA_ROOT set",
    flags: () => flagsWith((f) => (f === "--allow-sys=statfs" ? undefined : f)),
    env: { EXPORTER_DATA_ROOT: "/var/lib/docker" },
    fails: () => refusal("EXPORTER_DATA_ROOT=/var/lib/docker", "sys access to statfs"),
  },
  {
    name: "--allow-read of the data root, with EXPORTER_DATA_ROOT set",
    flags: () => flagsWith((f) => f.replace(",/var/lib/docker,", ",")),
    env: { EXPORTER_DATA_ROOT: "/var/lib/docker" },
    fails: () => refusal("EXPORTER_DATA_ROOT=/var/lib/docker", "read access to /var/lib/docker"),
  },
];

for (const { name, flags, host, env, fails } of withoutOne) {
  Deno.test(`without the start task's ${name}, the exporter refuses to start, naming the setting and the command`, async () => {
    const changed = await flags();
    assert.notDeepEqual(changed, await startTaskFlags(), "the permission was not found to drop");
    const port = freePort();
    await using exporter = spawnExporter(changed, host, port, env);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const status = await Promise.race([
      exporter.exited,
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 15_000))),
    ]);
    clearTimeout(timer);
    assert.ok(status, `still running without ${name}`);
    assert.equal(status.code, 2);
    await exporter.kill();
    assert.match(exporter.stderr, fails(port));
  });
}

/** The command on the second line of a refusal, run with `env` as a user would paste it into a shell. */
function runPrinted(refusal: string, env: Record<string, string>, port: number): Exporter {
  const command = refusal.split("\n")[1];
  assert.ok(command?.startsWith("MALLOC_ARENA_MAX=2 deno run "), refusal);
  const base = Deno.env.toObject();
  for (const name of Object.keys(base)) if (/^(EXPORTER_|DOCKER_)/.test(name)) delete base[name];
  // `deno` as the printed command names it: the one running these tests.
  const child = new Deno.Command("sh", {
    args: ["-c", `exec env ${command.replace(" deno run ", ` ${Deno.execPath()} run `)}`],
    cwd: fileURLToPath(REPO_ROOT),
    clearEnv: true,
    env: { ...base, NO_COLOR: "1", EXPORTER_HOST: "127.0.0.1", EXPORTER_PORT: String(port), ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return new Exporter(child, port);
}

/**
 * Runs the start task's command with `env` (its `$XDG_RUNTIME_DIR` expanded from `env` as `deno task` would);
 * resolves to what it wrote once it exited, as it must within 15 s.
 */
async function refusedWith(env: Record<string, string>, port: number): Promise<string> {
  const base = Deno.env.toObject();
  for (const name of Object.keys(base)) if (/^(EXPORTER_|DOCKER_)/.test(name)) delete base[name];
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...startTask((name) => env[name] ?? base[name]).flags, MAIN],
    cwd: fileURLToPath(REPO_ROOT),
    clearEnv: true,
    env: { ...base, NO_COLOR: "1", EXPORTER_HOST: "127.0.0.1", EXPORTER_PORT: String(port), ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(15_000),
  }).output();
  assert.equal(output.code, 2);
  return new TextDecoder().decode(output.stderr);
}

Deno.test("a socket the start task does not grant: exit 2, the setting named, and the printed command serves it", async () => {
  const engine = await FakeEngine.start();
  try {
    const env = { DOCKER_HOST: engine.url };
    const port = freePort();
    const stderr = await refusedWith(env, port);
    assert.match(
      stderr,
      refusal(
        `DOCKER_HOST=${engine.url}`,
        `net access to unix:${engine.path}, read access to ${engine.path}, write access to ${engine.path}`,
      ),
    );
    await using exporter = runPrinted(stderr, env, port);
    await waitFor(
      async () => (await exporter.get("/readyz").catch(() => ({ status: 0 }))).status === 200,
      15_000,
      "ready",
    );
    assert.equal(sampleValue(await exporter.samples(), "docker_up"), 1);
    await exporter.stop();
  } finally {
    engine.stop();
  }
});

Deno.test("a TLS web config the start task does not grant: exit 2, the setting named, and the printed command serves", async () => {
  // The engine where the start task grants it, so that the web config is all that is missing.
  const runtimeDir = await Deno.makeTempDir({ prefix: "xdg-runtime-" });
  const engine = await FakeEngine.start(`${runtimeDir}/docker.sock`);
  const dir = await Deno.makeTempDir({ prefix: "least-privilege-web-" });
  try {
    for (const name of ["server.pem", "server.key"]) {
      await Deno.copyFile(new URL(`../testdata/tls/${name}`, import.meta.url), `${dir}/${name}`);
    }
    // The certificate and key beside the file, named relative to it: one command grants all three.
    await Deno.writeTextFile(
      `${dir}/web.yml`,
      "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\nbasic_auth_users:\n",
    );
    const env = { XDG_RUNTIME_DIR: runtimeDir, DOCKER_HOST: engine.url, EXPORTER_WEB_CONFIG_FILE: `${dir}/web.yml` };
    const port = freePort();
    const stderr = await refusedWith(env, port);
    assert.match(stderr, refusal(`EXPORTER_WEB_CONFIG_FILE=${dir}/web.yml`, `read access to ${dir}/web.yml`));
    await using exporter = runPrinted(stderr, env, port);
    await waitFor(
      () => exporter.stderr.includes(`"address":"https://127.0.0.1:${port}/metrics"`),
      15_000,
      "the exporter serving over TLS",
    );
    await exporter.stop();
  } finally {
    engine.stop();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(runtimeDir, { recursive: true });
  }
});

Deno.test("`deno task start`, unedited, serves an engine at $XDG_RUNTIME_DIR/docker.sock, as rootless Docker has it", async () => {
  const runtimeDir = await Deno.makeTempDir({ prefix: "xdg-runtime-" });
  const engine = await FakeEngine.start(`${runtimeDir}/docker.sock`);
  try {
    const base = Deno.env.toObject();
    for (const name of Object.keys(base)) if (/^(EXPORTER_|DOCKER_)/.test(name)) delete base[name];
    const port = freePort();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["task", "start"],
      cwd: fileURLToPath(REPO_ROOT),
      clearEnv: true,
      env: {
        ...base,
        NO_COLOR: "1",
        XDG_RUNTIME_DIR: runtimeDir,
        DOCKER_HOST: `unix://${runtimeDir}/docker.sock`,
        EXPORTER_HOST: "127.0.0.1",
        EXPORTER_PORT: String(port),
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    await using exporter = new Exporter(child, port);
    await waitFor(
      async () => (await exporter.get("/readyz").catch(() => ({ status: 0 }))).status === 200,
      20_000,
      "ready",
    );
    assert.equal(sampleValue(await exporter.samples(), "docker_up"), 1);
    await exporter.stop();
  } finally {
    engine.stop();
    await Deno.remove(runtimeDir, { recursive: true });
  }
});

/** Whether this machine can listen on ::1 at all. */
function hasIpv6Loopback(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name: "an IPv6 listen address the start task does not allow: exit 2, and the printed command listens on it",
  ignore: !hasIpv6Loopback(),
  fn: async () => {
    const runtimeDir = await Deno.makeTempDir({ prefix: "xdg-runtime-" });
    const engine = await FakeEngine.start(`${runtimeDir}/docker.sock`);
    try {
      const port = freePort();
      const env = { XDG_RUNTIME_DIR: runtimeDir, DOCKER_HOST: engine.url, EXPORTER_HOST: "::1" };
      const stderr = await refusedWith(env, port);
      assert.match(stderr, refusal(`EXPORTER_HOST=::1 and EXPORTER_PORT=${port}`, `net access to [::1]:${port}`));
      await using exporter = runPrinted(stderr, env, port);
      await waitFor(
        () => fetch(`http://[::1]:${port}/healthz`).then((r) => r.text().then(() => r.ok), () => false),
        15_000,
        "/healthz on [::1]",
      );
      await waitFor(
        () => exporter.stderr.includes(`http://[::1]:${port}/metrics`),
        5_000,
        "the address logged as a URL",
      );
      await exporter.stop();
    } finally {
      engine.stop();
      await Deno.remove(runtimeDir, { recursive: true });
    }
  },
});

Deno.test({
  name: "the start task's permissions suffice against the real engine: sync, events, /metrics and --healthcheck",
  ignore,
  fn: async () => {
    await ensureTestImage();
    await using scope = new ContainerScope("leastpriv");
    await using exporter = await startExporter();
    const { id } = await scope.run();
    await waitFor(
      async () => sampleValue(await exporter.samples(), "docker_container_state", { id, state: "running" }) === 1,
      10_000,
      "the container, seen with the start task's permissions",
    );
    const health = await runExporterCommand(["--healthcheck"], { EXPORTER_PORT: String(exporter.port) });
    assert.deepEqual(health, { code: 0, stdout: "", stderr: "" });
    assert.deepEqual(exporter.logs().filter((l) => l.level === "error" || l.level === "warn"), []);
    await exporter.stop();
  },
});

/** The endpoints the exporter may ask for, as docs/running.md lists them for a socket proxy; `{id}` is 64 hex. */
const READ_ONLY = [
  /^\/version$/,
  /^\/info$/,
  /^\/containers\/json$/,
  /^\/containers\/[0-9a-f]{64}\/json$/,
  /^\/containers\/[0-9a-f]{64}\/stats$/,
  /^\/events$/,
  /^\/system\/df$/,
];

Deno.test({
  name: "through a logging proxy, the exporter only GETs read-only endpoints while containers live and die",
  ignore,
  fn: async () => {
    await ensureTestImage();
    const proxy = await DockerProxy.start({ upstream: DOCKER_SOCKET });
    try {
      await using scope = new ContainerScope("leastpriv-proxy");
      await using exporter = await startExporter({
        dockerSocket: proxy.path,
        env: { EXPORTER_REFRESH_INTERVAL: "2s" },
      });
      const samples = async () => parseSamples(await exporter.scrape());
      const state = async (id: string, s: string) =>
        sampleValue(await samples(), "docker_container_state", { id, state: s }) === 1;

      const a = await scope.run({ name: "a" });
      const b = await scope.run({ name: "b", command: ["sh", "-c", "exit 3"] });
      const c = await scope.create({ name: "c" });
      await docker("start", c.id);
      await docker("restart", "--time", "1", a.id);
      await docker("pause", c.id);
      await docker("unpause", c.id);
      await docker("kill", c.id);
      await docker("rename", c.name, scope.nameFor("c-renamed"));
      await docker("stop", "--time", "1", a.id);
      await waitFor(
        async () =>
          await state(a.id, "exited") && await state(b.id, "exited") && await state(c.id, "exited") &&
          sampleValue(await samples(), "docker_container_exit_code", { id: b.id }) === 3,
        15_000,
        "the three containers exited, b with code 3",
      );
      await scope.cleanup();
      await waitFor(
        async () => {
          const ids = findSamples(await samples(), "docker_container_info").map((s) => s.labels.id);
          return ![a.id, b.id, c.id].some((id) => ids.includes(id));
        },
        15_000,
        "the removed containers' series to go",
      );
      await exporter.stop();
    } finally {
      proxy.close();
    }
    const operations = proxy.countSince();
    for (const needed of ["version", "info", "list", "inspect", "events"]) {
      assert.ok((operations.get(needed) ?? 0) > 0, `no ${needed} request went through the proxy`);
    }
    assert.deepEqual(proxy.writeMethods(), [], "a request that is not GET or HEAD");
    const elsewhere = proxy.requests.filter((r) => {
      const bare = r.path.replace(/^\/v\d+\.\d+/, "").split("?")[0];
      return !READ_ONLY.some((endpoint) => endpoint.test(bare));
    });
    assert.deepEqual(elsewhere, [], `requests outside the read-only endpoints: ${JSON.stringify(elsewhere)}`);
  },
});

/** Where `deno compile` finds the runtime it embeds: downloaded (not possible offline) or named by DENORT_BIN. */
const denortBin = Deno.env.get("DENORT_BIN");
const denortCached = await Deno.stat(
  `${Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`}/dl/release/v${Deno.version.deno}`,
).then(() => true, () => false);
const canCompile = denortBin !== undefined || denortCached;
if (!canCompile) {
  console.warn(
    "least_privilege_test.ts: ignoring the compiled-binary test: `deno compile` needs the denort runtime, which " +
      "this machine cannot download; set DENORT_BIN to a denort binary to run it",
  );
}

Deno.test({
  name: "the binary `deno task compile` builds runs with the compile task's permissions and serves the real engine",
  ignore: ignore || !canCompile,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "docker-exporter-compile-" });
    try {
      const { flags } = await denoJsonTask("compile");
      const output = flags.indexOf("--output");
      const compileFlags = [
        ...flags.slice(0, output),
        "--output",
        `${dir}/docker-exporter`,
        ...flags.slice(output + 2),
      ];
      const compiled = await new Deno.Command(Deno.execPath(), {
        args: ["compile", ...compileFlags, MAIN],
        cwd: fileURLToPath(REPO_ROOT),
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(compiled.success, new TextDecoder().decode(compiled.stderr));
      const port = freePort();
      const child = new Deno.Command(`${dir}/docker-exporter`, {
        env: { EXPORTER_HOST: "127.0.0.1", EXPORTER_PORT: String(port), NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      await using exporter = new Exporter(child, port);
      await waitFor(async () => (await exporter.get("/readyz")).status === 200, 15_000, "the binary to sync");
      assert.equal(sampleValue(await exporter.samples(), "docker_up"), 1);
      await exporter.stop();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
