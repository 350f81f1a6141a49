/**
 * The engines the integration tests run against: Docker at /var/run/docker.sock, and Podman's Docker-compatible
 * service, which these helpers start themselves, on a socket of their own in a temporary directory, once per
 * test file, and stop after its last test.
 *
 * A test file asks for `await testEngines("name_test.ts")` and registers each case once per engine, named
 * `[docker] ...` and `[podman] ...`; an engine that is missing gets its cases ignored after one console message.
 */
import {
  buildTestImage,
  type ContainerEngine,
  docker,
  DOCKER_ENGINE,
  DOCKER_SOCKET,
  dockerTestsIgnored,
  pingSocket,
  runCommand,
  waitFor,
} from "./docker.ts";

/** What the engine says about itself, as `docker_engine_info` and `server_hostname` should show it. */
export interface EngineFacts {
  version: string;
  apiVersion: string;
  os: string;
  kernelVersion: string;
  hostname: string;
}

/** The fields of a container's inspect the tests compare with, in the Docker-compatible API's spelling. */
export interface EngineInspect {
  Id: string;
  /** The image id, `sha256:<hex>`. */
  Image: string;
  RestartCount: number;
  Config: { Image: string };
  State: { Status: string; StartedAt: string; FinishedAt: string; ExitCode: number };
}

/** An engine the integration tests drive through its CLI and whose Docker-compatible socket the exporter reads. */
export interface TestEngine extends ContainerEngine {
  readonly name: "docker" | "podman";
  /** The unix socket of its Docker-compatible API (for Podman, once `prepare()` has started the service). */
  readonly socket: string;
  /** Gets the engine ready to use: Podman's service started; the busybox test image built. Cheap when repeated. */
  prepare(): Promise<void>;
  /** The container's inspect, through the CLI. */
  inspect(id: string): Promise<EngineInspect>;
  facts(): Promise<EngineFacts>;
}

/** Docker at `DOCKER_SOCKET`, through the `docker` CLI. */
export const DOCKER: TestEngine = {
  ...DOCKER_ENGINE,
  name: "docker",
  socket: DOCKER_SOCKET,
  async prepare() {
    await DOCKER_ENGINE.ensureImage();
  },
  inspect: async (id) => JSON.parse(await docker("inspect", "--type", "container", "--format", "{{json .}}", id)),
  async facts() {
    const [version, apiVersion, os, kernelVersion] = (await docker(
      "version",
      "--format",
      "{{.Server.Version}}|{{.Server.APIVersion}}|{{.Server.Os}}|{{.Server.KernelVersion}}",
    )).split("|");
    return { version, apiVersion, os, kernelVersion, hostname: await docker("info", "--format", "{{.Name}}") };
  },
};

/**
 * The containers.conf every podman command and the service read (through CONTAINERS_CONF) instead of the system
 * one: without it, Podman raises each container's open-files limit, which the test sandbox refuses
 * (`error setting rlimit type 7: operation not permitted`).
 */
const CONTAINERS_CONF = "[containers]\ndefault_ulimits = []\n";

/** A `podman system service` on a socket of its own, with its containers.conf, in a temporary directory. */
class PodmanService {
  #stderr = "";
  readonly #pump: Promise<void>;
  readonly #status: Promise<Deno.CommandStatus>;

  private constructor(readonly dir: string, private readonly child: Deno.ChildProcess) {
    this.#pump = (async () => {
      for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) this.#stderr += text;
    })();
    this.#status = child.status;
  }

  get socket(): string {
    return `${this.dir}/podman.sock`;
  }

  get env(): Record<string, string> {
    return { CONTAINERS_CONF: `${this.dir}/containers.conf` };
  }

  /**
   * Starts the service (it never exits by itself: `--time=0`) and waits until it answers `/_ping`.
   * @throws Error with what the service printed when it does not answer within 20 s.
   */
  static async start(): Promise<PodmanService> {
    const dir = await Deno.makeTempDir({ prefix: "docker-exporter-podman-" });
    await Deno.writeTextFile(`${dir}/containers.conf`, CONTAINERS_CONF);
    const child = new Deno.Command("podman", {
      args: ["system", "service", "--time=0", `unix://${dir}/podman.sock`],
      env: { CONTAINERS_CONF: `${dir}/containers.conf` },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const service = new PodmanService(dir, child);
    try {
      await waitFor(async () => (await pingSocket(service.socket, 2000)) === undefined, 20_000, "podman's service");
    } catch (error) {
      await service.stop();
      throw new Error(`${(error as Error).message}; podman system service wrote:\n${service.#stderr}`);
    }
    return service;
  }

  /** Stops the service (SIGTERM, then SIGKILL after 10 s) and removes its directory. */
  async stop(): Promise<void> {
    try {
      this.child.kill("SIGTERM");
    } catch { /* already ended */ }
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch { /* ended meanwhile */ }
    }, 10_000);
    await this.#status;
    clearTimeout(timer);
    await this.#pump;
    await Deno.remove(this.dir, { recursive: true });
  }
}

/** Podman's CLI and its Docker-compatible service, started by `prepare()` and stopped by `stop()`. */
export class PodmanEngine implements TestEngine {
  readonly name = "podman";
  // `podman rm --force` stops with SIGTERM and a 10 s grace period first; Docker's kills at once.
  readonly forceRemoveFlags = ["--time", "0"] as const;
  #service: Promise<PodmanService> | undefined;
  #started: PodmanService | undefined;
  #image: Promise<string> | undefined;

  get socket(): string {
    if (!this.#started) throw new Error("podman's service is not started yet: await prepare() first");
    return this.#started.socket;
  }

  async prepare(): Promise<void> {
    this.#service ??= PodmanService.start();
    this.#service.catch(() => (this.#service = undefined));
    this.#started = await this.#service;
    await this.ensureImage();
  }

  /** Runs the local `podman` CLI with the service's containers.conf; it shares the service's storage. */
  cli = (...args: string[]): Promise<string> => {
    if (!this.#started) throw new Error("podman's service is not started yet: await prepare() first");
    return runCommand("podman", args, this.#started.env);
  };

  /** The test image; Podman stores it as `localhost/<tag>`, and containers' `Config.Image` says so. */
  ensureImage(): Promise<string> {
    this.#image ??= buildTestImage(this.cli);
    this.#image.catch(() => (this.#image = undefined));
    return this.#image;
  }

  async inspect(id: string): Promise<EngineInspect> {
    // Podman's own inspect is an array, and has the image id without the `sha256:` its Docker-compatible API adds.
    const [details] = JSON.parse(await this.cli("container", "inspect", id));
    return { ...details, Image: `sha256:${details.Image}` };
  }

  async facts(): Promise<EngineFacts> {
    // Through the service, as the exporter sees it. Podman's CLI knows only its own API version (4.3.1), not
    // the Docker API version it serves, which every answer carries in the Api-Version header.
    const remote = ["--url", `unix://${this.socket}`];
    const version = await this.cli(...remote, "version", "--format", "{{.Server.Version}}");
    const [hostname, kernelVersion, os] = (await this.cli(
      ...remote,
      "info",
      "--format",
      "{{.Host.Hostname}}|{{.Host.Kernel}}|{{.Host.OS}}",
    )).split("|");
    const client = Deno.createHttpClient({ proxy: { transport: "unix", path: this.socket } });
    try {
      const response = await fetch("http://podman/_ping", { client });
      await response.body?.cancel();
      return { version, apiVersion: response.headers.get("api-version") ?? "", os, kernelVersion, hostname };
    } finally {
      client.close();
    }
  }

  /** Stops the service if `prepare()` started it; `prepare()` may start a new one afterwards. */
  async stop(): Promise<void> {
    const service = this.#service;
    this.#service = this.#started = this.#image = undefined;
    await (await service?.catch(() => undefined))?.stop();
  }
}

/** Why Podman cannot be used here, or `undefined` when its CLI runs. */
async function podmanMissing(): Promise<string | undefined> {
  try {
    await runCommand("podman", ["--version"]);
    return undefined;
  } catch (error) {
    return error instanceof Deno.errors.NotFound
      ? "podman is not installed (apt-get install podman)"
      : `podman --version failed: ${(error as Error).message}`;
  }
}

/** One engine of `testEngines`, and whether its cases are ignored. */
export interface EngineUnderTest {
  engine: TestEngine;
  ignore: boolean;
}

/**
 * The engines a test file runs its cases against, Docker first. A Podman service is started by the first case
 * that needs it, and stopped after the file's last test. Prints one line per missing engine, naming `file`.
 * @example
 * for (const { engine, ignore } of await testEngines("x_test.ts")) {
 *   Deno.test({ name: `[${engine.name}] ...`, ignore, fn: async () => { await engine.prepare(); ... } });
 * }
 */
export async function testEngines(file: string): Promise<EngineUnderTest[]> {
  const podman = new PodmanEngine();
  Deno.test.afterAll(() => podman.stop());
  const missing = await podmanMissing();
  if (missing !== undefined) {
    console.warn(`${file}: ignoring its [podman] tests: ${missing}. .ci/run installs it.`);
  }
  return [
    { engine: DOCKER, ignore: await dockerTestsIgnored(file) },
    { engine: podman, ignore: missing !== undefined },
  ];
}

/**
 * Registers `fn` once per engine of `engines`, as `[docker] name` and `[podman] name`; each engine is prepared first
 * (service started, image built) so no test times that.
 */
export function engineTest(
  engines: readonly EngineUnderTest[],
  name: string,
  fn: (engine: TestEngine) => Promise<void>,
): void {
  for (const { engine, ignore } of engines) {
    Deno.test({
      name: `[${engine.name}] ${name}`,
      ignore,
      fn: async () => {
        await engine.prepare();
        await fn(engine);
      },
    });
  }
}
