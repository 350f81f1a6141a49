/**
 * Least privilege. The exporter runs with the narrowest Deno permissions that work, and only reads from Docker:
 * - the `start` and `compile` tasks in deno.json grant net (the Docker socket and the listen hosts), read and
 *   write (the Docker socket: Deno needs both to open a unix socket) and env, nothing else; the Dockerfile
 *   runs the image with the same flags (tests/integration/image_test.ts checks the built image too);
 * - those flags suffice against the real engine, and every one of them is needed: without any single one the
 *   exporter cannot do its job, so a flag the code does not use would fail this test;
 * - through a logging proxy in front of /var/run/docker.sock (bench/docker_proxy.ts), every request the
 *   exporter sends while containers start, stop, restart, die and are removed is a GET or HEAD of a read-only
 *   endpoint.
 */
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { DockerProxy } from "../../bench/docker_proxy.ts";
import { ENV_PERMISSION, SETTINGS } from "../../lib/config/settings.ts";
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

/** Permission flags Deno knows; only the first four may appear, and only in the forms checked below. */
const PERMISSION_FLAG = /^(-A|--allow-[a-z-]+|--unsafely-[a-z-]+|--unstable[a-z-]*)(=.*)?$/;
const ALLOWED_PERMISSIONS = new Set(["--allow-net", "--allow-read", "--allow-write", "--allow-env"]);

interface Task {
  /** `run` or `compile`. */
  verb: string;
  /** The permission flags, by name, with their comma-separated values ([] for a bare flag). */
  permissions: Map<string, string[]>;
  /** Every word between the verb and `main.ts`. */
  flags: string[];
}

async function denoJsonTask(name: string): Promise<Task> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", REPO_ROOT)));
  const task: unknown = config.tasks?.[name];
  assert.equal(typeof task, "string", `deno.json has no ${name} task`);
  // `NAME=value` words before the command set its environment (the start task's MALLOC_ARENA_MAX).
  return parseCommand(taskWords(task as string).words);
}

/** Reads `deno <verb> [flags] main.ts [args]` (args after main.ts are the exporter's, not Deno's). */
function parseCommand(words: string[]): Task {
  assert.equal(words[0], "deno", words.join(" "));
  const main = words.indexOf("main.ts");
  assert.ok(main > 1, `no main.ts in ${words.join(" ")}`);
  const flags = words.slice(2, main);
  const permissions = new Map<string, string[]>();
  for (const flag of flags) {
    const match = PERMISSION_FLAG.exec(flag);
    if (!match) continue;
    assert.ok(!permissions.has(match[1]), `${match[1]} appears twice`);
    permissions.set(match[1], match[2] ? match[2].slice(1).split(",") : []);
  }
  return { verb: words[1], permissions, flags };
}

const defaultOf = (env: string) => SETTINGS.find((s) => s.env === env)!.default;
/** The socket path of the default DOCKER_HOST, `unix:///var/run/docker.sock`. */
const DEFAULT_SOCKET = defaultOf("DOCKER_HOST").replace(/^unix:\/\//, "");

Deno.test("deno.json's start and compile tasks grant the same permissions", async () => {
  const start = await denoJsonTask("start");
  const compile = await denoJsonTask("compile");
  assert.equal(start.verb, "run");
  assert.equal(compile.verb, "compile");
  assert.deepEqual(compile.permissions, start.permissions);
});

for (const name of ["start", "compile"]) {
  Deno.test(`deno.json's ${name} task grants only net, read, write and env, and no -A`, async () => {
    const { permissions, flags } = await denoJsonTask(name);
    for (const flag of flags) {
      assert.ok(flag !== "-A" && !flag.startsWith("--allow-all"), `${flag}: all permissions`);
      assert.ok(!/^-[a-zA-Z]*A/.test(flag), `${flag}: a short flag with -A`);
    }
    assert.deepEqual([...permissions.keys()].filter((flag) => !ALLOWED_PERMISSIONS.has(flag)), []);
    for (const forbidden of ["--allow-run", "--allow-ffi", "--allow-sys", "--allow-import", "--allow-hrtime"]) {
      assert.ok(!permissions.has(forbidden), `${forbidden} is granted`);
    }
  });

  Deno.test(`deno.json's ${name} task limits net to the Docker socket and the listen hosts, read and write to the socket`, async () => {
    const { permissions } = await denoJsonTask(name);
    // The default listen address, and 127.0.0.1, which `--healthcheck` probes when listening on 0.0.0.0.
    assert.deepEqual(
      new Set(permissions.get("--allow-net")),
      new Set([`unix:${DEFAULT_SOCKET}`, defaultOf("EXPORTER_HOST"), "127.0.0.1"]),
    );
    assert.deepEqual(permissions.get("--allow-read"), [DEFAULT_SOCKET]);
    assert.deepEqual(permissions.get("--allow-write"), [DEFAULT_SOCKET]);
    // The settings' variables (a new setting outside these names would be refused at start), and the two debug
    // switches the yaml package reads on every parse of --web.config.file.
    assert.deepEqual(permissions.get("--allow-env"), ["DOCKER_HOST", "EXPORTER_*", "LOG_TOKENS", "LOG_STREAM"]);
    // The flag the exporter names when it may not read a variable is this task's.
    assert.equal(ENV_PERMISSION, `--allow-env=${permissions.get("--allow-env")!.join(",")}`);
    for (const { env } of SETTINGS) assert.ok(env === "DOCKER_HOST" || env.startsWith("EXPORTER_"), env);
  });
}

Deno.test("the image sets the environment the start task sets (MALLOC_ARENA_MAX)", async () => {
  const dockerfile = await Deno.readTextFile(new URL("Dockerfile", REPO_ROOT));
  // The runtime stage: after the last FROM.
  const runtime = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
  const env = [...runtime.matchAll(/^ENV (.*)$/gm)].flatMap((m) => m[1].trim().split(/\s+/));
  const taskEnv = Object.entries(startTask().env).map(([name, value]) => `${name}=${value}`);
  assert.deepEqual(taskEnv, ["MALLOC_ARENA_MAX=2"]);
  for (const word of taskEnv) assert.ok(env.includes(word), `the image's ENV lacks ${word}: ${env.join(" ")}`);
});

Deno.test("the Dockerfile's ENTRYPOINT and HEALTHCHECK grant exactly the start task's permissions", async () => {
  // Line continuations joined, so `HEALTHCHECK --interval=... \` and its `CMD [...]` are one line.
  const dockerfile = (await Deno.readTextFile(new URL("Dockerfile", REPO_ROOT))).replace(/\\\n\s*/g, " ");
  const start = await denoJsonTask("start");
  const execForms = [...dockerfile.matchAll(/^(ENTRYPOINT|HEALTHCHECK .*CMD) (\[.*\])$/gm)];
  assert.deepEqual(execForms.map((m) => m[1].split(" ")[0]), ["HEALTHCHECK", "ENTRYPOINT"]);
  for (const [, instruction, json] of execForms) {
    const { permissions } = parseCommand(JSON.parse(json));
    assert.deepEqual(permissions, start.permissions, instruction);
  }
});

/** The start task's flags with one permission changed: `edit` returns the flag's new form, or undefined to drop it. */
async function flagsWith(edit: (flag: string) => string | undefined): Promise<string[]> {
  return (await startTaskFlags()).map(edit).filter((flag): flag is string => flag !== undefined);
}

/** Runs the exporter with `flags` on 127.0.0.1 (or `host`) and a free port; `Exporter` gives its logs and stop. */
function spawnExporter(flags: string[], host = "127.0.0.1", port = freePort()): Exporter {
  const env = Deno.env.toObject();
  for (const name of Object.keys(env)) if (/^(EXPORTER_|DOCKER_)/.test(name)) delete env[name];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, MAIN],
    cwd: fileURLToPath(REPO_ROOT),
    clearEnv: true,
    env: { ...env, NO_COLOR: "1", EXPORTER_HOST: host, EXPORTER_PORT: String(port) },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return new Exporter(child, port);
}

/** A variable the exporter may not read: one line naming the flag, as for a bad setting, not Deno's stack trace. */
const ENV_REFUSED =
  /^docker-exporter: cannot read EXPORTER_\w+ from the environment; grant --allow-env=DOCKER_HOST,EXPORTER_\*,LOG_TOKENS,LOG_STREAM\n$/;

/**
 * Each permission of the start task, dropped alone, and what the exporter then cannot do. None of these needs a
 * Docker engine: Deno refuses before anything is opened.
 */
const withoutOne: {
  name: string;
  flags: () => Promise<string[]>;
  host?: string;
  fails: RegExp;
  exits: boolean;
  /** The exit code, where it is a documented one. */
  code?: number;
}[] = [
  {
    name: "--allow-env",
    flags: () => flagsWith((f) => (f.startsWith("--allow-env") ? undefined : f)),
    fails: ENV_REFUSED,
    exits: true,
    code: 2,
  },
  {
    name: "--allow-env of EXPORTER_*",
    flags: () => flagsWith((f) => (f.startsWith("--allow-env") ? "--allow-env=DOCKER_HOST" : f)),
    fails: ENV_REFUSED,
    exits: true,
    code: 2,
  },
  {
    name: "--allow-read of the socket",
    flags: () => flagsWith((f) => (f.startsWith("--allow-read=") ? undefined : f)),
    fails: /Requires read access to \\"\/var\/run\/docker\.sock\\"/,
    exits: false,
  },
  {
    name: "--allow-write of the socket",
    flags: () => flagsWith((f) => (f.startsWith("--allow-write=") ? undefined : f)),
    fails: /Requires write access to \\"\/var\/run\/docker\.sock\\"/,
    exits: false,
  },
  {
    name: "--allow-net of the socket",
    flags: () => flagsWith((f) => f.replace(`unix:${DEFAULT_SOCKET},`, "")),
    fails: /Requires net access to \\"unix:\/var\/run\/docker\.sock\\"/,
    exits: false,
  },
  {
    name: "--allow-net of 127.0.0.1",
    flags: () => flagsWith((f) => f.replace(",127.0.0.1", "")),
    fails: /cannot listen on 127\.0\.0\.1:\d+; grant it with --allow-net=127\.0\.0\.1:\d+/,
    exits: true,
  },
  {
    name: "--allow-net of 0.0.0.0, the default listen address",
    flags: () => flagsWith((f) => f.replace(",0.0.0.0,", ",")),
    // Deno refuses before binding, so nothing listens on 0.0.0.0 even for a moment.
    host: "0.0.0.0",
    fails: /cannot listen on 0\.0\.0\.0:\d+; grant it with --allow-net=0\.0\.0\.0:\d+/,
    exits: true,
  },
];

for (const { name, flags, host, fails, exits, code } of withoutOne) {
  Deno.test(`without the start task's ${name}, the exporter cannot do its job`, async () => {
    const changed = await flags();
    assert.notDeepEqual(changed, await startTaskFlags(), "the permission was not found to drop");
    await using exporter = spawnExporter(changed, host);
    if (exits) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const status = await Promise.race([
        exporter.exited,
        new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 15_000))),
      ]);
      clearTimeout(timer);
      assert.ok(status, `still running without ${name}`);
      assert.notEqual(status.code, 0);
      if (code !== undefined) assert.equal(status.code, code);
      await exporter.kill();
      assert.match(exporter.stderr, fails);
      return;
    }
    // It serves, but never reaches Docker: /readyz stays 503, docker_up 0, and the log names the permission.
    await waitFor(() => fails.test(exporter.stderr), 15_000, `a log line matching ${fails}`);
    const ready = await exporter.get("/readyz");
    assert.equal(ready.status, 503);
    assert.equal(sampleValue(parseSamples((await exporter.get("/metrics")).text), "docker_up"), 0);
    await exporter.stop();
  });
}

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
  name: "an IPv6 listen address the start task does not allow: the flag the exporter names is one Deno accepts",
  ignore: !hasIpv6Loopback(),
  fn: async () => {
    const port = freePort();
    const refused = spawnExporter(await startTaskFlags(), "::1", port);
    const status = await refused.exited;
    assert.notEqual(status.code, 0);
    const named = /cannot listen on \[::1\]:(\d+); grant it with (--allow-net=\S+?)"/.exec(refused.stderr);
    assert.ok(named, refused.stderr);
    assert.equal(Number(named[1]), port);
    // Added to the task's list, as docs/permissions.md says to write your own command line.
    const granted = `,${named[2].slice("--allow-net=".length)}`;
    await using exporter = spawnExporter(
      await flagsWith((f) => (f.startsWith("--allow-net=") ? f + granted : f)),
      "::1",
      port,
    );
    await waitFor(
      () => fetch(`http://[::1]:${port}/healthz`).then((r) => r.text().then(() => r.ok), () => false),
      15_000,
      "/healthz on [::1]",
    );
    await waitFor(() => exporter.stderr.includes(`http://[::1]:${port}/metrics`), 5_000, "the address logged as a URL");
    await exporter.stop();
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
