/**
 * The exporter run on the cgroup files as a container deployment runs it: the host's /proc and /sys/fs/cgroup
 * bind-mounted under a temporary directory in a private mount namespace (as
 * `-v /proc:/host/proc:ro -v /sys/fs/cgroup:/host/sys/fs/cgroup:ro` does), EXPORTER_PROC_ROOT and
 * EXPORTER_CGROUP_ROOT pointing there, and the `start` task's permissions plus `--allow-read` for those two paths
 * only: Deno refuses /proc and /sys themselves without --allow-all. Needs root (for `unshare --mount`).
 */
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { waitFor } from "./docker.ts";
import { Exporter, freePort, REPO_ROOT, startTaskFlags } from "./exporter.ts";

/** Why a private mount namespace with bind mounts cannot be made here, or `undefined` when it can. */
export async function unshareProblem(): Promise<string | undefined> {
  try {
    const { success, stderr } = await new Deno.Command("unshare", {
      args: ["--mount", "--propagation", "private", "sh", "-c", "mount --bind /proc /mnt && umount /mnt"],
      stdout: "null",
      stderr: "piped",
    }).output();
    return success ? undefined : `unshare --mount failed (needs root): ${new TextDecoder().decode(stderr).trim()}`;
  } catch (error) {
    return `cannot run unshare: ${(error as Error).message}`;
  }
}

/**
 * Starts the exporter with the host's /proc and /sys/fs/cgroup mounted at `<mounts>/proc` and `<mounts>/cgroup`
 * (directories it makes; `mounts` must exist and is the caller's to remove), with `env` on top of the settings that
 * point at them; resolves once `/readyz` answers 200.
 */
export async function startWithCgroupMounts(mounts: string, env: Record<string, string>): Promise<Exporter> {
  const proc = `${mounts}/proc`;
  const cgroup = `${mounts}/cgroup`;
  await Deno.mkdir(proc);
  await Deno.mkdir(cgroup);
  const flags = (await startTaskFlags()).map((flag) =>
    flag.startsWith("--allow-read=") ? `${flag},${proc},${cgroup}` : flag
  );
  assert.ok(flags.some((flag) => flag.includes(cgroup)), "the start task has no --allow-read to extend");
  const port = freePort();
  const inherited = Deno.env.toObject();
  for (const name of Object.keys(inherited)) {
    if (name.startsWith("EXPORTER_") || name.startsWith("DOCKER_")) delete inherited[name];
  }
  const child = new Deno.Command("unshare", {
    args: [
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      'mount --bind /proc "$1" && mount --rbind /sys/fs/cgroup "$2" && shift 2 && exec "$@"',
      "sh",
      proc,
      cgroup,
      Deno.execPath(),
      "run",
      ...flags,
      fileURLToPath(new URL("main.ts", REPO_ROOT)),
    ],
    cwd: fileURLToPath(REPO_ROOT),
    clearEnv: true,
    env: {
      ...inherited,
      NO_COLOR: "1",
      ...env,
      EXPORTER_PROC_ROOT: proc,
      EXPORTER_CGROUP_ROOT: cgroup,
      EXPORTER_HOST: "127.0.0.1",
      EXPORTER_PORT: String(port),
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const exporter = new Exporter(child, port);
  try {
    await waitFor(
      async () => {
        if (exporter.status !== undefined) throw new Error(`exited with ${exporter.status.code}: ${exporter.stderr}`);
        const response = await fetch(`${exporter.url}/readyz`);
        await response.body?.cancel();
        return response.status === 200;
      },
      15_000,
      "the exporter to get ready",
    );
  } catch (error) {
    await exporter.kill();
    throw new Error(`${(error as Error).message}\nstderr:\n${exporter.stderr}`);
  }
  return exporter;
}
