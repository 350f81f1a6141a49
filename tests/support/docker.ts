/**
 * Helpers for the integration tests that drive the real Docker engine at /var/run/docker.sock:
 * telling whether it answers, running the `docker` CLI, the offline busybox test image, containers
 * that are `--network none` (or `--network host` when asked, binding only 127.0.0.1) and always cleaned up, and
 * polling. The image and the containers work
 * the same through another engine's CLI (`ContainerEngine`; engines.ts has Podman).
 *
 * Test files register their Docker tests with `ignore: await dockerTestsIgnored("name_test.ts")`, so that
 * without an engine they show as ignored, after one console message saying why.
 */
import { concatBytes } from "../../lib/shared/bytes.ts";

/** The socket the exporter's `start` task is allowed to use, and so the one these tests drive. */
export const DOCKER_SOCKET = "/var/run/docker.sock";

/** The busybox image's build context (its Dockerfile; `/bin/busybox` is copied in at build time). */
const IMAGE_DIR = new URL("./busybox_image/", import.meta.url);
const BUSYBOX = "/bin/busybox";
const IMAGE_REPOSITORY = "docker-exporter-test-busybox";
/** The label every test container carries, valued with its scope's prefix, so cleanup finds renamed ones too. */
const SCOPE_LABEL = "docker-exporter.test-scope";

const decoder = new TextDecoder();

/** Whether an engine answers, and if not, why (for the console message). */
export interface DockerCheck {
  available: boolean;
  reason: string;
}

let checked: Promise<DockerCheck> | undefined;

/**
 * Checks, once per process, that the engine answers `GET /_ping` on `DOCKER_SOCKET` and that the `docker`
 * CLI reaches it (`docker info`).
 */
export function checkDocker(): Promise<DockerCheck> {
  checked ??= (async () => {
    const ping = await pingSocket(DOCKER_SOCKET, 2000);
    if (ping !== undefined) return { available: false, reason: ping };
    try {
      await docker("info", "--format", "{{.ServerVersion}}");
    } catch (error) {
      return { available: false, reason: `the docker CLI cannot use the engine: ${(error as Error).message}` };
    }
    return { available: true, reason: "" };
  })();
  return checked;
}

/** True when the engine answers at `DOCKER_SOCKET` and the `docker` CLI works. */
export async function dockerAvailable(): Promise<boolean> {
  return (await checkDocker()).available;
}

/**
 * For `Deno.test({ ignore })`: true when Docker is not reachable, after printing one line that says
 * which file's tests are skipped and why.
 * @example Deno.test({ name: "...", ignore: await dockerTestsIgnored("docker_engine_test.ts"), fn })
 */
export async function dockerTestsIgnored(file: string): Promise<boolean> {
  const { available, reason } = await checkDocker();
  if (!available) {
    console.warn(
      `${file}: ignoring its tests, which need a Docker engine: ${reason}. ` +
        "Start one with `dockerd --bridge=none --iptables=false --ip-forward=false --ip-masq=false` (see .ci/run).",
    );
  }
  return !available;
}

/** Sends `GET /_ping` over the unix socket; returns why it failed, or `undefined` when the engine said OK. */
export async function pingSocket(path: string, timeoutMs: number): Promise<string | undefined> {
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path });
  } catch (error) {
    return `nothing answers at ${path} (${(error as Error).message})`;
  }
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    await conn.write(new TextEncoder().encode("GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n"));
    let text = "";
    const buffer = new Uint8Array(4096);
    for (let n; (n = await conn.read(buffer)) !== null;) text += decoder.decode(buffer.subarray(0, n));
    if (/^HTTP\/1\.[01] 200 /.test(text) && text.endsWith("OK")) return undefined;
    return `${path} did not answer GET /_ping with 200 OK: ${JSON.stringify(text.slice(0, 80))}`;
  } catch (error) {
    return `GET /_ping on ${path} failed or took over ${timeoutMs} ms (${(error as Error).message})`;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
}

/**
 * Runs the `docker` CLI and returns its stdout without the trailing newline.
 * @throws Error with the command, exit code and stderr when it fails.
 * @example const id = await docker("run", "-d", "--network", "none", image, "sleep", "5");
 */
export function docker(...args: string[]): Promise<string> {
  // The legacy builder needs no buildx plugin and no network; hints would only clutter stderr.
  return runCommand("docker", args, { DOCKER_BUILDKIT: "0", DOCKER_CLI_HINTS: "false" });
}

/**
 * Runs `command args...` with `env` added to this process's environment; returns stdout without the trailing
 * newline.
 * @throws Error with the command, exit code and stderr when it fails.
 */
export async function runCommand(
  command: string,
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<string> {
  const output = await new Deno.Command(command, {
    args: [...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env,
  }).output();
  if (!output.success) {
    throw new Error(
      `${command} ${args.join(" ")} failed (exit ${output.code}): ${decoder.decode(output.stderr).trim()}`,
    );
  }
  return decoder.decode(output.stdout).replace(/\n$/, "");
}

let image: Promise<string> | undefined;

/**
 * Returns the tag of the busybox test image on Docker, building it first when no image has that tag.
 * Needs busybox-static (`/bin/busybox`).
 */
export function ensureTestImage(): Promise<string> {
  image ??= buildTestImage(docker);
  // A failed build is not cached, so the next test tries again and reports its own error.
  image.catch(() => (image = undefined));
  return image;
}

/**
 * Builds the busybox test image with `cli` (`docker` or `podman`, which take the same `image inspect` and
 * `build` arguments) unless it has it already, and returns its tag. The tag is a hash of the Dockerfile and of
 * /bin/busybox, so a changed recipe builds a new image and an unchanged one is built once per engine.
 */
export async function buildTestImage(cli: (...args: string[]) => Promise<string>): Promise<string> {
  const dockerfile = await Deno.readFile(new URL("Dockerfile", IMAGE_DIR));
  const busybox = await Deno.readFile(BUSYBOX).catch((error) => {
    throw new Error(`${BUSYBOX} is missing (apt-get install busybox-static): ${error.message}`);
  });
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", concatBytes([dockerfile, busybox])));
  const tag = `${IMAGE_REPOSITORY}:${
    Array.from(digest.subarray(0, 6), (b) => b.toString(16).padStart(2, "0")).join("")
  }`;
  try {
    await cli("image", "inspect", "--format", "{{.Id}}", tag);
    return tag;
  } catch {
    // Not built yet on this engine.
  }
  const context = await Deno.makeTempDir({ prefix: "docker-exporter-image-" });
  try {
    await Deno.writeFile(`${context}/Dockerfile`, dockerfile);
    await Deno.writeFile(`${context}/busybox`, busybox, { mode: 0o755 });
    await cli("build", "--network", "none", "--quiet", "--tag", tag, context);
  } finally {
    await Deno.remove(context, { recursive: true });
  }
  return tag;
}

/** The CLI of an engine that takes `docker`'s arguments, as a `ContainerScope` uses it. */
export interface ContainerEngine {
  /** Runs the CLI; returns stdout without the trailing newline, throws with stderr when it fails. */
  cli(...args: string[]): Promise<string>;
  /** The tag of the busybox test image on this engine, built when missing. */
  ensureImage(): Promise<string>;
  /**
   * What `rm --force` needs besides to kill at once: Docker sends SIGKILL, Podman first stops with SIGTERM and
   * a grace period unless given `--time 0`.
   */
  readonly forceRemoveFlags: readonly string[];
}

/** The Docker engine at `DOCKER_SOCKET`, through the `docker` CLI. */
export const DOCKER_ENGINE: ContainerEngine = { cli: docker, ensureImage: ensureTestImage, forceRemoveFlags: [] };

/** What to run; every container gets `--network none` (unless asked for host) and its scope's name prefix and label. */
export interface ContainerSpec {
  /**
   * `host` runs the container in the host's network namespace instead of none; it must then bind only 127.0.0.1,
   * and never gets a bridge or an address of its own.
   */
  network?: "none" | "host";
  /** Appended to the scope's prefix to make the container name (default: a counter). */
  name?: string;
  /** Container labels (`--label key=value`). */
  labels?: Readonly<Record<string, string>>;
  /** More `docker run` flags, such as `["--health-cmd", "test -f /tmp/ok"]`. */
  flags?: readonly string[];
  /**
   * The command (default: a shell that sleeps and exits 0 at once on SIGTERM, so `docker stop`
   * and `docker restart` take no grace period).
   */
  command?: readonly string[];
}

/** A container started by a `ContainerScope`. */
export interface TestContainer {
  /** The full 64-character id, as the exporter's `id` label has it. */
  id: string;
  name: string;
}

/** Sleeps for up to ten minutes, and exits 0 on SIGTERM: `wait` returns at once when a trapped signal comes. */
export const SLEEP_COMMAND = ["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"] as const;

/**
 * The containers of one test: each named `<prefix>-<name>` with a prefix unique to this scope, and all
 * removed (with `docker rm -f`) by `cleanup()` or at the end of an `await using` block.
 * `engine` runs them (default: Docker).
 * @example
 * await using scope = new ContainerScope("engine");
 * const { id, name } = await scope.run({ labels: { "com.example.team": "a" } });
 */
export class ContainerScope implements AsyncDisposable {
  /** `itest-<task>-<random>`: what every container name of this scope starts with. */
  readonly prefix: string;
  readonly #engine: ContainerEngine;
  #count = 0;

  constructor(task: string, engine: ContainerEngine = DOCKER_ENGINE) {
    this.prefix = `itest-${task}-${crypto.randomUUID().slice(0, 8)}`;
    this.#engine = engine;
  }

  /** A name under this scope's prefix. */
  nameFor(part: string): string {
    return `${this.prefix}-${part}`;
  }

  /** `docker run -d` the container; returns once the engine has started it. */
  run(spec: ContainerSpec = {}): Promise<TestContainer> {
    return this.#launch("run", spec);
  }

  /** `docker create` the container, without starting it. */
  create(spec: ContainerSpec = {}): Promise<TestContainer> {
    return this.#launch("create", spec);
  }

  async #launch(verb: "run" | "create", spec: ContainerSpec): Promise<TestContainer> {
    const tag = await this.#engine.ensureImage();
    const name = this.nameFor(spec.name ?? String(++this.#count));
    const labels = Object.entries(spec.labels ?? {}).flatMap(([key, value]) => ["--label", `${key}=${value}`]);
    const id = await this.#engine.cli(
      verb,
      ...(verb === "run" ? ["--detach"] : []),
      "--network",
      spec.network ?? "none",
      "--name",
      name,
      "--label",
      `${SCOPE_LABEL}=${this.prefix}`,
      ...labels,
      ...(spec.flags ?? []),
      tag,
      ...(spec.command ?? SLEEP_COMMAND),
    );
    if (!/^[0-9a-f]{64}$/.test(id)) throw new Error(`${verb} printed ${JSON.stringify(id)}, not an id`);
    return { id, name };
  }

  /** Removes every container of this scope (renamed ones too), with their anonymous volumes. */
  async cleanup(): Promise<void> {
    const ids = await this.#engine.cli(
      "ps",
      "--all",
      "--quiet",
      "--no-trunc",
      "--filter",
      `label=${SCOPE_LABEL}=${this.prefix}`,
    );
    if (ids === "") return;
    await this.#engine.cli("rm", "--force", ...this.#engine.forceRemoveFlags, "--volumes", ...ids.split("\n"));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.cleanup();
  }
}

/**
 * Polls `probe` every `intervalMs` until it returns something other than `undefined`, `null` or `false`,
 * and returns that. A probe that throws counts as not yet, and its last error is in the timeout message.
 * @throws Error naming `what` after `timeoutMs`.
 * @example const line = await waitFor(async () => (await scrape()).includes(id) || undefined, 5000, "the series");
 */
export async function waitFor<T>(
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs: number,
  what = "the condition",
  intervalMs = 25,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  while (true) {
    try {
      const result = await probe();
      if (result !== undefined && result !== null && result !== false) return result;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (performance.now() >= deadline) {
      const detail = lastError === undefined ? "" : `; last error: ${(lastError as Error).message ?? lastError}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
