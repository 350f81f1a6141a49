/**
 * The Deno permissions the exporter runs with, declared once as data: the sets that `deno task start`, the compiled
 * binary and the container image grant, what one configuration needs of them, and the flags and command that grant
 * a set. deno.json, the Dockerfile and the docs are tested against these (tests/unit/config/permissions_test.ts).
 * Pure: what Deno has granted is asked through a function the caller passes.
 */
import type { DockerEndpoint } from "../docker/mod.ts";
import type { ResourceMode } from "../resources/mod.ts";
import { hostPort } from "../shared/mod.ts";

/** Deno permissions as lists of what each flag allows, e.g. `{ net: ["0.0.0.0"], read: [], ... }`. */
export interface Permissions {
  net: readonly string[];
  read: readonly string[];
  write: readonly string[];
  /** System calls (`statfs`), as `--allow-sys` names them. */
  sys: readonly string[];
  env: readonly string[];
}

/**
 * The environment the exporter reads: its settings, the YAML parser's debug switches (read on every parse), and
 * `XDG_RUNTIME_DIR`, where rootless Docker and Podman put their sockets.
 */
export const ENV_NAMES: readonly string[] = [
  "DOCKER_HOST",
  "EXPORTER_*",
  "LOG_TOKENS",
  "LOG_STREAM",
  "XDG_RUNTIME_DIR",
];

/**
 * Where an engine's socket is looked for when `DOCKER_HOST` is unset, in this order (the Docker CLI's default first,
 * then rootless Docker, then Podman rootful and rootless, as Testcontainers looks). `$XDG_RUNTIME_DIR` stands for the
 * variable's value: `deno task` expands it in the start task, the exporter when it looks.
 */
export const STANDARD_SOCKETS: readonly string[] = [
  "/var/run/docker.sock",
  "$XDG_RUNTIME_DIR/docker.sock",
  "/run/podman/podman.sock",
  "$XDG_RUNTIME_DIR/podman/podman.sock",
];

/**
 * Where rootful Docker and Podman keep their data by default (`/info`'s `DockerRootDir`): the start task may `statfs`
 * them for the size and inodes of their file system. Read access to a directory is Deno's condition for `statfs` on it;
 * the exporter reads no file there.
 */
export const STANDARD_DATA_ROOTS: readonly string[] = ["/var/lib/docker", "/var/lib/containers/storage"];

/** The system call the data root's file system is read with; Deno grants it with `--allow-sys=statfs`. */
const STATFS = "statfs";

/** Where a web config file (and the certificate and key it names) may be read without any other grant. */
export const WEB_CONFIG_DIR = "/etc/docker-exporter";

/**
 * Where the container image reads the host's cgroup tree and `/proc`, and the file system of the engine's data root,
 * each mounted read-only.
 */
export const IMAGE_MOUNTS = {
  cgroupRoot: "/host/sys/fs/cgroup",
  procRoot: "/host/proc",
  dataRoot: "/host/data-root",
} as const;

/** The addresses every launch may listen on and probe (`--healthcheck` asks 127.0.0.1). */
const LISTEN = ["0.0.0.0", "127.0.0.1"];

/** Deno's flags besides permissions that every launch uses: a smaller V8 young generation, no code cache on disk. */
export const RUNTIME_FLAGS: readonly string[] = [
  "--v8-flags=--max-semi-space-size=1,--optimize-for-size",
  "--no-code-cache",
];

/** The environment every launch sets: at most two glibc malloc arenas. */
export const RUNTIME_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: "2" };

/** The flag that lets the exporter read its environment. */
export const ENV_PERMISSION = `--allow-env=${ENV_NAMES.join(",")}`;

/**
 * What `deno task start` and `deno task compile` grant: every standard socket, the web config directory, and `statfs`
 * of the standard data roots.
 */
export const START_PERMISSIONS: Permissions = {
  net: [...STANDARD_SOCKETS.map((socket) => `unix:${socket}`), ...LISTEN],
  read: [...STANDARD_SOCKETS, WEB_CONFIG_DIR, ...STANDARD_DATA_ROOTS],
  write: STANDARD_SOCKETS,
  sys: [STATFS],
  env: ENV_NAMES,
};

/**
 * What the container image grants: the socket mounted at its standard path, the host mounts (the data root's for
 * `statfs` only), the web config.
 */
export const IMAGE_PERMISSIONS: Permissions = {
  net: ["unix:/var/run/docker.sock", ...LISTEN],
  read: [
    "/var/run/docker.sock",
    IMAGE_MOUNTS.cgroupRoot,
    IMAGE_MOUNTS.procRoot,
    WEB_CONFIG_DIR,
    IMAGE_MOUNTS.dataRoot,
  ],
  write: ["/var/run/docker.sock"],
  sys: [STATFS],
  env: ENV_NAMES,
};

/** The flags that grant `permissions`, in Deno's spelling; a kind with nothing to grant is left out. */
export function permissionFlags(permissions: Permissions): string[] {
  const flags: string[] = [];
  for (const kind of ["net", "read", "write", "sys", "env"] as const) {
    // Deno splits a list at commas and reads two together as one comma in a name.
    const values = [...new Set(permissions[kind])].map((value) => value.replaceAll(",", ",,"));
    if (values.length > 0) flags.push(`--allow-${kind}=${values.join(",")}`);
  }
  return flags;
}

/**
 * `permissions` with `$XDG_RUNTIME_DIR` replaced by its value, as `deno task` does, or the entries that name it left
 * out when it is unset, for a command typed outside `deno task`.
 */
export function withRuntimeDir(permissions: Permissions, runtimeDir: string | undefined): Permissions {
  const expand = (values: readonly string[]) =>
    values.flatMap((value) =>
      !value.includes("$XDG_RUNTIME_DIR") ? [value] : runtimeDir ? [value.replace("$XDG_RUNTIME_DIR", runtimeDir)] : []
    );
  return {
    net: expand(permissions.net),
    read: expand(permissions.read),
    write: expand(permissions.write),
    sys: permissions.sys,
    env: permissions.env,
  };
}

/** Both sets in one: what the union of their grants allows, without a `host:port` that its `host` already allows. */
export function unionOf(a: Permissions, b: Permissions): Permissions {
  const net = new Set([...a.net, ...b.net]);
  for (const value of net) {
    const host = /^(.*):\d+$/.exec(value)?.[1];
    if (host !== undefined && !value.startsWith("unix:") && net.has(host)) net.delete(value);
  }
  return {
    net: [...net],
    read: [...new Set([...a.read, ...b.read])],
    write: [...new Set([...a.write, ...b.write])],
    sys: [...new Set([...a.sys, ...b.sys])],
    env: [...new Set([...a.env, ...b.env])],
  };
}

/** One permission a configuration needs, and the setting it serves (for the message that asks for it). */
export interface Need {
  kind: "net" | "read" | "write" | "sys";
  /** As Deno's flag spells it: `unix:/path`, `host:port`, a path, a system call. */
  value: string;
  /** The setting as the user wrote it, e.g. `DOCKER_HOST=unix:///run/user/1000/docker.sock`. */
  setting: string;
  /** What a command should grant, when more than `value` (a file's directory, for files it names beside it). */
  grant?: string;
}

/** The parts of a configuration that need permissions, with the text of the setting each came from. */
export interface PermissionInputs {
  docker: DockerEndpoint;
  dockerSetting: string;
  host: string;
  port: number;
  listenSetting: string;
  resourceMetrics: ResourceMode;
  cgroupRoot: string;
  procRoot: string;
  /** `EXPORTER_DATA_ROOT`, when set: the exporter must `statfs` it. */
  dataRoot?: string;
  /** The web config file and the files it names, each with its setting (and what to grant); empty without one. */
  files: readonly { path: string; setting: string; grant?: string }[];
}

/**
 * What a configuration needs granted. The cgroup and proc roots are needed only when resource metrics must come from
 * them (`cgroup`); with `auto` they are used if they may be read, and the engine's stats API otherwise. The data root
 * is needed only when `EXPORTER_DATA_ROOT` names it; the one the engine gives is read if it may be.
 */
export function needsOf(inputs: PermissionInputs): Need[] {
  const needs: Need[] = [];
  const { docker } = inputs;
  if (docker.kind === "unix") {
    needs.push({ kind: "net", value: `unix:${docker.path}`, setting: inputs.dockerSetting });
    needs.push({ kind: "read", value: docker.path, setting: inputs.dockerSetting });
    needs.push({ kind: "write", value: docker.path, setting: inputs.dockerSetting });
  } else {
    needs.push({ kind: "net", value: hostPort(docker.hostname, docker.port), setting: inputs.dockerSetting });
  }
  needs.push({ kind: "net", value: hostPort(inputs.host, inputs.port), setting: inputs.listenSetting });
  for (const file of inputs.files) {
    needs.push({ kind: "read", value: file.path, setting: file.setting, ...(file.grant ? { grant: file.grant } : {}) });
  }
  if (inputs.resourceMetrics === "cgroup") {
    needs.push({ kind: "read", value: inputs.cgroupRoot, setting: `EXPORTER_CGROUP_ROOT=${inputs.cgroupRoot}` });
    needs.push({ kind: "read", value: inputs.procRoot, setting: `EXPORTER_PROC_ROOT=${inputs.procRoot}` });
  }
  if (inputs.dataRoot !== undefined) {
    const setting = `EXPORTER_DATA_ROOT=${inputs.dataRoot}`;
    needs.push({ kind: "read", value: inputs.dataRoot, setting });
    needs.push({ kind: "sys", value: STATFS, setting });
  }
  return needs;
}

/** What Deno says of one permission: `Deno.permissions.querySync`'s state. */
export type PermissionQuery = (need: Pick<Need, "kind" | "value">) => "granted" | "prompt" | "denied";

/** The needs that are not granted, in the order given. */
export function missingOf(needs: readonly Need[], query: PermissionQuery): Need[] {
  return needs.filter((need) => query(need) !== "granted");
}

/** `needs` as a set of grants, with the environment every launch reads. */
export function permissionsOf(needs: readonly Need[]): Permissions {
  const pick = (kind: Need["kind"]) =>
    needs.filter((need) => need.kind === kind).map((need) => need.grant ?? need.value);
  return { net: pick("net"), read: pick("read"), write: pick("write"), sys: pick("sys"), env: ENV_NAMES };
}

/**
 * The whole command that runs the exporter with `permissions` (the start task's grants with what the configuration
 * needs added), as a user types it in a shell: `MALLOC_ARENA_MAX=2 deno run ... /path/main.ts [args]`; for the
 * compiled binary, the `deno compile` command that builds one with those grants.
 */
export function commandFor(
  permissions: Permissions,
  options: { main: string; args: readonly string[]; standalone: boolean },
): string {
  const env = Object.entries(RUNTIME_ENV).map(([name, value]) => `${name}=${value}`);
  const flags = [...RUNTIME_FLAGS, ...permissionFlags(permissions)];
  const words = options.standalone
    ? ["deno", "compile", ...flags, "--output", "docker-exporter", options.main]
    : [...env, "deno", "run", ...flags, options.main, ...options.args];
  return words.map(shellWord).join(" ");
}

/** A word as a POSIX shell reads it back: quoted when it has anything but safe characters. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_\-.,:/=@%+]+$/.test(word) ? word : `'${word.replaceAll("'", `'"'"'`)}'`;
}

/**
 * Thrown where a configuration needs permissions the process was not granted: `needs` are the ones missing, the first
 * naming the setting to blame. main.ts answers it with the command that grants them.
 */
export class PermissionNeeded extends Error {
  override name = "PermissionNeeded";
  constructor(readonly needs: readonly Need[]) {
    super(`${needs[0].setting}: ${describeNeeds(needs)}`);
  }
}

/** What is missing, in words: `Deno has not granted read access to /x, net access to unix:/y`. */
export function describeNeeds(needs: readonly Need[]): string {
  const access = needs.map((need) => `${need.kind} access to ${need.value}`);
  const text = `Deno has not granted the exporter ${[...new Set(access)].join(", ")}`;
  // No --allow-read grants these: say what works instead of printing a command that cannot.
  const underProcOrSys = needs.some((need) => need.kind === "read" && /^\/(proc|sys)(\/|$)/.test(need.value));
  return underProcOrSys
    ? `${text} (Deno reads /proc and /sys only with --allow-all: mount them elsewhere and point EXPORTER_CGROUP_ROOT ` +
      "and EXPORTER_PROC_ROOT there, see docs/permissions.md#reading-proc-and-sys)"
    : text;
}
