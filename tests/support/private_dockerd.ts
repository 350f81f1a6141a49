/**
 * A private Docker daemon for the tests that must stop the engine or load it heavily, and why it cannot run here.
 */
import { buildTestImage, type ContainerEngine, pingSocket, runCommand, waitFor } from "./docker.ts";

async function which(command: string): Promise<boolean> {
  try {
    return (await new Deno.Command("sh", { args: ["-c", `command -v ${command}`], stdout: "null" }).output()).success;
  } catch {
    return false;
  }
}

/** The user id, from `id -u`: `Deno.uid()` would need --allow-sys, which the test task does not grant. */
async function uid(): Promise<number> {
  try {
    const output = await new Deno.Command("id", { args: ["-u"], stdout: "piped", stderr: "null" }).output();
    return Number(new TextDecoder().decode(output.stdout).trim());
  } catch {
    return NaN;
  }
}

/** Why a private dockerd cannot be started here, or `undefined` when it can. */
export async function privateDaemonUnavailable(): Promise<string | undefined> {
  return await uid() !== 0
    ? "starting a dockerd needs root"
    : !(await which("dockerd"))
    ? "there is no dockerd (apt-get install docker.io)"
    : !(await which("docker"))
    ? "there is no docker CLI"
    : undefined;
}

/**
 * A dockerd of a test's own, so that a test may stop and start it, or churn hundreds of containers, without
 * disturbing the shared engine at /var/run/docker.sock: its own socket, data root, exec root, pid file, config
 * file, cgroup parent and containerd namespaces, in a directory under /tmp (short: containerd's socket paths are
 * limited), and no network at all (`--bridge=none`, no iptables, no forwarding or masquerading). Its managed
 * containerd is its own too. `await using` removes its containers, stops it and removes every trace.
 * @example
 * await using daemon = await PrivateDaemon.create();
 * await daemon.start();
 * await using exporter = await startExporter({ dockerSocket: daemon.socket });
 */
export class PrivateDaemon implements AsyncDisposable {
  #child: Deno.ChildProcess | undefined;
  #log = "";
  #pump: Promise<void> | undefined;
  readonly engine: ContainerEngine;

  private constructor(readonly dir: string) {
    const cli = (...args: string[]) =>
      runCommand("docker", ["--host", this.url, ...args], { DOCKER_BUILDKIT: "0", DOCKER_CLI_HINTS: "false" });
    this.engine = { cli, ensureImage: () => buildTestImage(cli), forceRemoveFlags: [] };
  }

  get socket(): string {
    return `${this.dir}/docker.sock`;
  }

  get url(): string {
    return `unix://${this.socket}`;
  }

  /** What dockerd has logged so far, for failure messages. */
  get log(): string {
    return this.#log;
  }

  /** Makes its directory; `start()` starts it. */
  static async create(): Promise<PrivateDaemon> {
    const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "dexp-dr-" });
    await Deno.writeTextFile(`${dir}/daemon.json`, "{}\n");
    return new PrivateDaemon(dir);
  }

  /** Starts dockerd (again, with the same roots) and waits until it answers `/_ping`. */
  async start(): Promise<void> {
    const name = this.dir.slice(this.dir.lastIndexOf("/") + 1);
    this.#child = new Deno.Command("dockerd", {
      args: [
        `--host=${this.url}`,
        `--data-root=${this.dir}/data`,
        `--exec-root=${this.dir}/exec`,
        `--pidfile=${this.dir}/docker.pid`,
        `--config-file=${this.dir}/daemon.json`,
        `--containerd-namespace=${name}`,
        `--containerd-plugins-namespace=${name}-plugins`,
        `--cgroup-parent=/${name}`,
        "--bridge=none",
        "--iptables=false",
        "--ip-forward=false",
        "--ip-masq=false",
        "--shutdown-timeout=2",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const child = this.#child;
    let exited = false;
    child.status.then(() => (exited = true));
    this.#pump = Promise.all([child.stdout, child.stderr].map(async (stream) => {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) this.#log += text;
    })).then(() => {});
    await waitFor(
      async () => {
        if (exited) throw new Error("dockerd exited");
        return (await pingSocket(this.socket, 1000)) === undefined;
      },
      30_000,
      "the private dockerd to answer",
      100,
    ).catch((error) => {
      throw new Error(`${error.message}; dockerd logged:\n${this.#log.slice(-3000)}`);
    });
  }

  /** SIGTERM, as a service manager stops it, and waits for the exit (SIGKILL after 20 s). */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    try {
      child.kill("SIGTERM");
    } catch { /* already ended */ }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* ended meanwhile */ }
    }, 20_000);
    await child.status;
    clearTimeout(timer);
    await this.#pump;
  }

  /**
   * Removes every container, stops the daemon, kills a containerd it may have left behind, unmounts anything
   * still mounted under its directory, and removes the directory.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      if (this.#child) {
        const ids = await this.engine.cli("ps", "--all", "--quiet");
        if (ids !== "") await this.engine.cli("rm", "--force", ...ids.split("\n"));
      }
    } catch { /* the daemon is not answering: stopping it stops its containers */ }
    await this.stop();
    try {
      const pid = Number(await Deno.readTextFile(`${this.dir}/exec/containerd/containerd.pid`));
      if (pid > 1) Deno.kill(pid, "SIGKILL");
    } catch { /* no containerd left */ }
    try {
      // Read by `cat`: Deno lets only --allow-all read /proc/self/mounts, and the test task does not grant it.
      const mounts = (await runCommand("cat", ["/proc/self/mounts"])).split("\n").map((line) => line.split(" ")[1])
        .filter((point) => point?.startsWith(`${this.dir}/`)).sort().reverse();
      for (const point of mounts) await runCommand("umount", ["-l", point]);
    } finally {
      await Deno.remove(this.dir, { recursive: true });
      await removeCgroup(this.dir.slice(this.dir.lastIndexOf("/") + 1));
    }
  }
}

/**
 * Removes the (by now empty) cgroup `name` that the daemon's `--cgroup-parent` made under every controller
 * (cgroup v1) or under the root (v2), with any child left in it.
 */
async function removeCgroup(name: string): Promise<void> {
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`not a cgroup name of ours: ${name}`);
  // Through `sh`: Deno lets only --allow-all read /sys, and the test task does not grant it.
  await runCommand("sh", [
    "-c",
    `for d in /sys/fs/cgroup/${name} /sys/fs/cgroup/*/${name}; do ` +
    `if [ -d "$d" ]; then find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; fi; done; true`,
  ]);
}
