/**
 * The permission set, declared once in lib/config/permissions.ts, and everything that spells it out held against it:
 * deno.json's start and compile tasks, the Dockerfile's build check, HEALTHCHECK and ENTRYPOINT, the image's mounts
 * in compose.yaml. Also what a configuration needs, and the command that grants it.
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import {
  commandFor,
  describeNeeds,
  ENV_NAMES,
  ENV_PERMISSION,
  IMAGE_MOUNTS,
  IMAGE_PERMISSIONS,
  missingOf,
  type Need,
  needsOf,
  permissionFlags,
  type PermissionInputs,
  permissionsOf,
  RUNTIME_ENV,
  RUNTIME_FLAGS,
  STANDARD_SOCKETS,
  START_PERMISSIONS,
  unionOf,
  WEB_CONFIG_DIR,
  withRuntimeDir,
} from "../../../lib/config/permissions.ts";
import { SETTINGS } from "../../../lib/config/settings.ts";

const ROOT = new URL("../../../", import.meta.url);
const read = (path: string) => Deno.readTextFileSync(new URL(path, ROOT));

const START_FLAGS = [...RUNTIME_FLAGS, ...permissionFlags(START_PERMISSIONS)].join(" ");
const IMAGE_FLAGS = permissionFlags(IMAGE_PERMISSIONS);

Deno.test("deno.json's start task is the runtime environment and flags and the start permissions, nothing else", () => {
  const tasks = JSON.parse(read("deno.json")).tasks;
  const env = Object.entries(RUNTIME_ENV).map(([name, value]) => `${name}=${value}`).join(" ");
  assert.equal(tasks.start, `${env} deno run ${START_FLAGS} main.ts`);
});

Deno.test("deno.json's compile task builds a binary with the start task's flags", () => {
  assert.equal(
    JSON.parse(read("deno.json")).tasks.compile,
    `deno compile ${START_FLAGS} --output docker-exporter main.ts`,
  );
});

Deno.test("the start permissions grant every standard socket, the listen hosts, the web config directory and statfs of the standard data roots", () => {
  assert.deepEqual(STANDARD_SOCKETS, [
    "/var/run/docker.sock",
    "$XDG_RUNTIME_DIR/docker.sock",
    "/run/podman/podman.sock",
    "$XDG_RUNTIME_DIR/podman/podman.sock",
  ]);
  assert.deepEqual(permissionFlags(START_PERMISSIONS), [
    "--allow-net=unix:/var/run/docker.sock,unix:$XDG_RUNTIME_DIR/docker.sock,unix:/run/podman/podman.sock," +
    "unix:$XDG_RUNTIME_DIR/podman/podman.sock,0.0.0.0,127.0.0.1",
    "--allow-read=/var/run/docker.sock,$XDG_RUNTIME_DIR/docker.sock,/run/podman/podman.sock," +
    "$XDG_RUNTIME_DIR/podman/podman.sock,/etc/docker-exporter,/var/lib/docker,/var/lib/containers/storage",
    "--allow-write=/var/run/docker.sock,$XDG_RUNTIME_DIR/docker.sock,/run/podman/podman.sock," +
    "$XDG_RUNTIME_DIR/podman/podman.sock",
    "--allow-sys=statfs",
    "--allow-env=DOCKER_HOST,EXPORTER_*,LOG_TOKENS,LOG_STREAM,XDG_RUNTIME_DIR",
  ]);
  assert.equal(ENV_PERMISSION, permissionFlags(START_PERMISSIONS).at(-1));
});

Deno.test("every variable the exporter reads is one its permissions name", () => {
  const granted = (name: string) =>
    ENV_NAMES.some((pattern) => pattern.endsWith("*") ? name.startsWith(pattern.slice(0, -1)) : name === pattern);
  for (const { env } of SETTINGS) assert.ok(granted(env), env);
  for (const name of ["XDG_RUNTIME_DIR", "LOG_TOKENS", "LOG_STREAM"]) assert.ok(granted(name), name);
});

/** The Dockerfile with line continuations joined, so `HEALTHCHECK ... \` and its `CMD [...]` are one line. */
function dockerfile(): string {
  return read("Dockerfile").replace(/\\\n\s*/g, " ");
}

Deno.test("the Dockerfile's build check, HEALTHCHECK and ENTRYPOINT grant exactly the image permissions", () => {
  const execForms = [
    ...dockerfile().matchAll(/^(RUN|ENTRYPOINT|HEALTHCHECK .*CMD) (\["deno", "run".*"main\.ts".*\])$/gm),
  ];
  assert.deepEqual(execForms.map((m) => m[1].split(" ")[0]), ["RUN", "HEALTHCHECK", "ENTRYPOINT"]);
  for (const [, instruction, json] of execForms) {
    const words: string[] = JSON.parse(json);
    const name = instruction.split(" ")[0];
    assert.deepEqual(words.filter((word) => word.startsWith("--allow-") || word === "-A"), IMAGE_FLAGS, name);
    if (name !== "RUN") {
      assert.deepEqual(words.slice(0, 4), ["deno", "run", "--cached-only", "--frozen"], name);
      assert.deepEqual(words.filter((word) => RUNTIME_FLAGS.includes(word)), [...RUNTIME_FLAGS], name);
    }
  }
});

Deno.test("the image reads cgroup files and the data root where it grants them, and sets the start task's environment", () => {
  const runtime = dockerfile().slice(dockerfile().lastIndexOf("\nFROM "));
  const env = [...runtime.matchAll(/^ENV (.*)$/gm)].flatMap((m) => m[1].trim().split(/\s+/));
  for (const [name, value] of Object.entries(RUNTIME_ENV)) assert.ok(env.includes(`${name}=${value}`), name);
  assert.ok(env.includes(`EXPORTER_CGROUP_ROOT=${IMAGE_MOUNTS.cgroupRoot}`), env.join(" "));
  assert.ok(env.includes(`EXPORTER_PROC_ROOT=${IMAGE_MOUNTS.procRoot}`), env.join(" "));
  assert.ok(env.includes(`EXPORTER_DATA_ROOT=${IMAGE_MOUNTS.dataRoot}`), env.join(" "));
  for (const path of [IMAGE_MOUNTS.cgroupRoot, IMAGE_MOUNTS.procRoot, WEB_CONFIG_DIR, IMAGE_MOUNTS.dataRoot]) {
    assert.ok(IMAGE_PERMISSIONS.read.includes(path), path);
  }
  assert.deepEqual(IMAGE_PERMISSIONS.sys, ["statfs"]);
});

Deno.test("compose.yaml mounts the host's cgroup tree, /proc and the engine's data root read-only where the image reads them", () => {
  const volumes: string[] = parse(read("compose.yaml")).services["docker-exporter"].volumes;
  assert.ok(volumes.includes(`/sys/fs/cgroup:${IMAGE_MOUNTS.cgroupRoot}:ro`), volumes.join(", "));
  assert.ok(volumes.includes(`/proc:${IMAGE_MOUNTS.procRoot}:ro`), volumes.join(", "));
  assert.ok(volumes.includes(`\${DOCKER_DATA_ROOT:-/var/lib/docker}:${IMAGE_MOUNTS.dataRoot}:ro`), volumes.join(", "));
});

const INPUTS: PermissionInputs = {
  docker: { kind: "unix", path: "/run/user/1000/docker.sock", url: "unix:///run/user/1000/docker.sock" },
  dockerSetting: "DOCKER_HOST=unix:///run/user/1000/docker.sock",
  host: "0.0.0.0",
  port: 8000,
  listenSetting: "EXPORTER_HOST=0.0.0.0 and EXPORTER_PORT=8000",
  resourceMetrics: "auto",
  cgroupRoot: "/sys/fs/cgroup",
  procRoot: "/proc",
  files: [],
};

Deno.test("needsOf() asks for a unix socket's net, read and write, and for the listen address", () => {
  const setting = INPUTS.dockerSetting;
  assert.deepEqual(needsOf(INPUTS), [
    { kind: "net", value: "unix:/run/user/1000/docker.sock", setting },
    { kind: "read", value: "/run/user/1000/docker.sock", setting },
    { kind: "write", value: "/run/user/1000/docker.sock", setting },
    { kind: "net", value: "0.0.0.0:8000", setting: INPUTS.listenSetting },
  ]);
});

Deno.test("needsOf() asks for a tcp engine's host:port, files, and the cgroup roots only in cgroup mode", () => {
  const needs = needsOf({
    ...INPUTS,
    docker: { kind: "tcp", hostname: "::1", port: 2375, url: "tcp://[::1]:2375" },
    dockerSetting: "DOCKER_HOST=tcp://[::1]:2375",
    files: [{ path: "/srv/web.yml", setting: "EXPORTER_WEB_CONFIG_FILE=/srv/web.yml" }],
    resourceMetrics: "cgroup",
    cgroupRoot: "/host/sys/fs/cgroup",
  });
  assert.deepEqual(needs.map((need) => `${need.kind} ${need.value}`), [
    "net [::1]:2375",
    "net 0.0.0.0:8000",
    "read /srv/web.yml",
    "read /host/sys/fs/cgroup",
    "read /proc",
  ]);
  assert.equal(needs[3].setting, "EXPORTER_CGROUP_ROOT=/host/sys/fs/cgroup");
});

Deno.test("needsOf() asks for read access to EXPORTER_DATA_ROOT and for statfs only when it is set", () => {
  assert.ok(!needsOf(INPUTS).some((need) => need.kind === "sys"));
  const needs = needsOf({ ...INPUTS, dataRoot: "/srv/docker-data" }).slice(4);
  const setting = "EXPORTER_DATA_ROOT=/srv/docker-data";
  assert.deepEqual(needs, [
    { kind: "read", value: "/srv/docker-data", setting },
    { kind: "sys", value: "statfs", setting },
  ]);
  assert.deepEqual(permissionFlags(permissionsOf(needs)), [
    "--allow-read=/srv/docker-data",
    "--allow-sys=statfs",
    "--allow-env=DOCKER_HOST,EXPORTER_*,LOG_TOKENS,LOG_STREAM,XDG_RUNTIME_DIR",
  ]);
  assert.match(describeNeeds(needs), /read access to \/srv\/docker-data, sys access to statfs$/);
});

Deno.test("missingOf() keeps the needs Deno has not granted, in order", () => {
  const granted = new Set(["net 0.0.0.0:8000", "write /run/user/1000/docker.sock"]);
  const missing = missingOf(
    needsOf(INPUTS),
    (need) => granted.has(`${need.kind} ${need.value}`) ? "granted" : "prompt",
  );
  assert.deepEqual(missing.map((need: Need) => need.kind), ["net", "read"]);
});

Deno.test("withRuntimeDir() expands $XDG_RUNTIME_DIR as deno task does, or leaves its entries out when unset", () => {
  assert.deepEqual(withRuntimeDir(START_PERMISSIONS, "/run/user/1000").read, [
    "/var/run/docker.sock",
    "/run/user/1000/docker.sock",
    "/run/podman/podman.sock",
    "/run/user/1000/podman/podman.sock",
    "/etc/docker-exporter",
    "/var/lib/docker",
    "/var/lib/containers/storage",
  ]);
  assert.deepEqual(withRuntimeDir(START_PERMISSIONS, undefined).write, [
    "/var/run/docker.sock",
    "/run/podman/podman.sock",
  ]);
});

Deno.test("commandFor() writes a command a shell reads back word for word, and the compile command for a binary", async () => {
  const permissions = unionOf(withRuntimeDir(START_PERMISSIONS, undefined), permissionsOf(needsOf(INPUTS)));
  const args = ["--web.config.file", "/srv/my web.yml", "--log-level=debug"];
  const command = commandFor(permissions, { main: "/opt/docker-exporter/main.ts", args, standalone: false });
  assert.ok(command.startsWith("MALLOC_ARENA_MAX=2 deno run --v8-flags="), command);
  // What a shell makes of it: the words after the environment assignment.
  const echoed = await new Deno.Command("sh", { args: ["-c", `set -- ${command}; printf '%s\\n' "$@"`] }).output();
  const words = new TextDecoder().decode(echoed.stdout).trimEnd().split("\n");
  assert.deepEqual(words, [
    "MALLOC_ARENA_MAX=2",
    "deno",
    "run",
    ...RUNTIME_FLAGS,
    ...permissionFlags(permissions),
    "/opt/docker-exporter/main.ts",
    ...args,
  ]);
  assert.ok(permissionFlags(permissions)[1].includes("/run/user/1000/docker.sock"));
  const compile = commandFor(permissions, { main: "main.ts", args, standalone: true });
  assert.match(
    compile,
    /^deno compile --v8-flags=\S+ --no-code-cache --allow-net=\S+ .* --output docker-exporter main\.ts$/,
  );
});

Deno.test("describeNeeds() says that /proc and /sys need --allow-all, where no --allow-read would do", () => {
  const needs = needsOf({ ...INPUTS, resourceMetrics: "cgroup" }).filter((need) => need.value.startsWith("/sys"));
  assert.match(
    describeNeeds(needs),
    /read access to \/sys\/fs\/cgroup \(Deno reads \/proc and \/sys only with --allow-all/,
  );
  assert.doesNotMatch(describeNeeds(needsOf(INPUTS)), /allow-all/);
});

Deno.test("permissionFlags() doubles a comma inside a path, as Deno reads it, so the list splits only between paths", () => {
  const flags = permissionFlags({
    net: [],
    read: ["/srv/a,b/web.yml", "/etc/docker-exporter"],
    write: [],
    sys: [],
    env: [],
  });
  assert.deepEqual(flags, ["--allow-read=/srv/a,,b/web.yml,/etc/docker-exporter"]);
});
