/**
 * Builds the real Dockerfile with `docker build` and runs the image against the real engine: as the unprivileged
 * user 65532 with only the socket's group added, read-only, with every capability dropped. The base images cannot
 * be pulled here, so local stand-ins are built first under the exact tags the Dockerfile's `FROM` lines name
 * (tests/support/image_standins.ts). The npm dependencies come from the registry through the documented
 * corporate-proxy path: this machine's CA bundle in deploy/build-ca/ and `--build-arg DENO_CERT`.
 */
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { ContainerScope, docker, DOCKER_SOCKET, dockerTestsIgnored, runCommand, waitFor } from "../support/docker.ts";
import { findSamples, freePort, parseSamples, REPO_ROOT } from "../support/exporter.ts";
import { IMAGE_PERMISSIONS, permissionFlags, RUNTIME_FLAGS } from "../../lib/config/permissions.ts";
import { baseImagesOf, ensureStandIn } from "../support/image_standins.ts";

const ignore = await dockerTestsIgnored("image_test.ts");

/** The CA bundle that lets the build stage reach the npm registry through this machine's TLS-intercepting proxy. */
const HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";
const decoder = new TextDecoder();

/** Every file git would put in a clean checkout plus the untracked ones not ignored: the files a user builds from. */
async function checkoutFiles(): Promise<string[]> {
  const output = await new Deno.Command("git", {
    args: ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    cwd: fileURLToPath(REPO_ROOT),
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(`git ls-files failed: ${decoder.decode(output.stderr)}`);
  return decoder.decode(output.stdout).split("\0").filter((path) => path !== "");
}

/**
 * A copy of the checkout in a temporary folder, with the host's CA bundle added as deploy/build-ca/proxy-ca.pem,
 * as deploy/build-ca/README.md tells users behind a proxy to do. The repository itself is not touched.
 */
async function buildContext(): Promise<string> {
  const context = await Deno.makeTempDir({ prefix: "docker-exporter-context-" });
  for (const path of await checkoutFiles()) {
    const source = fileURLToPath(new URL(path, REPO_ROOT));
    // A file deleted in the work tree but still in the index is not in the checkout.
    if (!(await Deno.stat(source).then((s) => s.isFile, () => false))) continue;
    const target = `${context}/${path}`;
    await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
    await Deno.copyFile(source, target);
  }
  await Deno.mkdir(`${context}/deploy/build-ca`, { recursive: true });
  await Deno.copyFile(HOST_CA_BUNDLE, `${context}/deploy/build-ca/proxy-ca.pem`);
  return context;
}

/** compose.yaml's exporter service as `docker-compose config` resolves it, with this host's socket group. */
async function composeService(): Promise<Record<string, unknown>> {
  const gid = (await Deno.stat(DOCKER_SOCKET)).gid!;
  const output = await new Deno.Command("docker-compose", {
    args: ["--file", "compose.yaml", "config"],
    cwd: fileURLToPath(REPO_ROOT),
    env: { DOCKER_GID: String(gid) },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(`docker-compose config failed: ${decoder.decode(output.stderr)}`);
  const { parse } = await import("yaml");
  return parse(decoder.decode(output.stdout)).services["docker-exporter"];
}

/** The words of the Dockerfile's `ENTRYPOINT`, for comparing with the image's permissions. */
function runFlags(entrypoint: readonly string[]): string[] {
  assert.deepEqual(entrypoint.slice(0, 4), ["deno", "run", "--cached-only", "--frozen"], entrypoint.join(" "));
  assert.equal(entrypoint.at(-1), "main.ts", entrypoint.join(" "));
  return entrypoint.slice(4, -1);
}

/**
 * A TCP listener on 127.0.0.1 that forwards every connection to the engine's unix socket, standing in for a
 * socket proxy such as tecnativa/docker-socket-proxy (which cannot be pulled here).
 */
class TcpToSocketProxy implements AsyncDisposable {
  readonly #listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  readonly #open = new Set<Deno.Conn>();
  readonly #pipes: Promise<void>[] = [];
  readonly #accepting: Promise<void>;
  connections = 0;

  constructor(socket: string) {
    this.#accepting = (async () => {
      for await (const client of this.#listener) {
        this.connections++;
        this.#open.add(client);
        this.#pipes.push(
          (async () => {
            const engine = await Deno.connect({ transport: "unix", path: socket });
            this.#open.add(engine);
            await Promise.allSettled([
              client.readable.pipeTo(engine.writable),
              engine.readable.pipeTo(client.writable),
            ]);
          })().catch(() => {}),
        );
      }
    })().catch(() => {});
  }

  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    for (const conn of this.#open) {
      try {
        conn.close();
      } catch { /* closed by its pipe */ }
    }
    await this.#accepting;
    await Promise.all(this.#pipes);
  }
}

interface ImageConfig {
  User: string;
  StopSignal: string;
  Entrypoint: string[];
  Cmd?: string[] | null;
  WorkingDir: string;
  ExposedPorts: Record<string, unknown>;
  Healthcheck: { Test: string[]; Interval: number; Timeout: number; StartPeriod: number; Retries: number };
}

/** What a container wrote to stderr (the exporter's JSON log lines). */
async function containerLogs(name: string): Promise<string> {
  const output = await new Deno.Command("docker", { args: ["logs", name], stdout: "null", stderr: "piped" }).output();
  return decoder.decode(output.stderr);
}

/** Scrapes the exporter on 127.0.0.1:`port` until a sample named `metric` matching `labels` shows, and returns it. */
function scrapeFor(port: number, metric: string, labels: Record<string, string>, what: string) {
  return waitFor(
    async () => {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      return findSamples(parseSamples(await response.text()), metric, labels)[0];
    },
    30_000,
    `${metric}${JSON.stringify(labels)} from ${what}`,
  );
}

Deno.test({
  name: "the Dockerfile builds on its base images' tags and runs as non-root, healthy, and serving metrics",
  ignore,
  fn: async (t) => {
    const dockerfile = await Deno.readTextFile(new URL("Dockerfile", REPO_ROOT));
    const bases = baseImagesOf(dockerfile);
    await ensureStandIn(bases.build, "debian");
    await ensureStandIn(bases.runtime, "distroless");

    const tag = `docker-exporter-image-test:${crypto.randomUUID().slice(0, 8)}`;
    await using scope = new ContainerScope("image");
    const started: string[] = [];
    /**
     * Runs the image as `name` on the host network, listening on 127.0.0.1:`port`, read-only, without capabilities
     * or privilege escalation, with `flags` added to `docker run` and `args` after the image.
     */
    const runImage = async (name: string, port: number, flags: string[], args: string[] = []) => {
      started.push(name);
      await docker(
        "run",
        "--detach",
        "--name",
        name,
        "--network",
        "host",
        "--env",
        "EXPORTER_HOST=127.0.0.1",
        "--env",
        `EXPORTER_PORT=${port}`,
        "--read-only",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        ...flags,
        tag,
        ...args,
      );
    };
    const socketMount = ["--volume", `${DOCKER_SOCKET}:${DOCKER_SOCKET}:ro`];
    const exporterName = scope.nameFor("exporter");
    try {
      await t.step(
        "docker build succeeds on the stand-ins, with the npm registry reached through the CA path",
        async () => {
          const context = await buildContext();
          try {
            await docker(
              "build",
              "--network",
              "host",
              "--quiet",
              "--build-arg",
              "DENO_CERT=/build-ca/proxy-ca.pem",
              "--tag",
              tag,
              context,
            );
          } finally {
            await Deno.remove(context, { recursive: true });
          }
        },
      );

      await t.step(
        "the image is non-root, stops on SIGTERM, and its healthcheck is shell-free with the image's permissions",
        async () => {
          const config: ImageConfig = JSON.parse(await docker("image", "inspect", "--format", "{{json .Config}}", tag));
          assert.equal(config.User, "65532:65532");
          assert.equal(config.StopSignal, "SIGTERM");
          assert.equal(config.WorkingDir, "/app");
          assert.deepEqual(Object.keys(config.ExposedPorts), ["8000/tcp"]);
          assert.deepEqual(runFlags(config.Entrypoint), [...RUNTIME_FLAGS, ...permissionFlags(IMAGE_PERMISSIONS)]);
          assert.equal(config.Cmd ?? null, null, "the base image's CMD must not become arguments of the exporter");
          const { Test: test, ...timing } = config.Healthcheck;
          assert.equal(test[0], "CMD", "exec form: the runtime image has no shell");
          assert.deepEqual(test.slice(1), [...config.Entrypoint, "--healthcheck"]);
          assert.deepEqual(timing, { Interval: 30e9, Timeout: 5e9, StartPeriod: 20e9, Retries: 3 });
        },
      );

      await t.step("it starts with no network at all, and /app holds only what the exporter runs from", async () => {
        assert.match(
          await docker("run", "--rm", "--network", "none", tag, "--version"),
          /^docker-exporter \S+ \(deno /,
        );
        const listing = await docker(
          "run",
          "--rm",
          "--network",
          "none",
          "--entrypoint",
          "deno",
          tag,
          "eval",
          "console.log(JSON.stringify([...Deno.readDirSync('/app')].map((e) => e.name).sort()))",
        );
        assert.deepEqual(JSON.parse(listing), ["deno.json", "deno.lock", "lib", "main.ts"]);
      });

      await t.step("with the socket's group it serves a test container, turns healthy, and is not root", async () => {
        const socketGid = (await Deno.stat(DOCKER_SOCKET)).gid;
        assert.ok(socketGid !== null, `cannot read the group of ${DOCKER_SOCKET}`);
        const port = freePort();
        // Only the interval is shortened; the check itself is the image's.
        await runImage(exporterName, port, [
          ...socketMount,
          "--group-add",
          String(socketGid),
          "--health-interval",
          "1s",
        ]);
        const { id, name } = await scope.run({ labels: { "com.docker.compose.project": "image-test" } });

        const info = await scrapeFor(port, "docker_container_info", { id }, "the exporter in the image");
        assert.equal(info.labels.name, name);
        assert.equal(info.labels.compose_project, "image-test");

        const health = await waitFor(
          async () => {
            const status = await docker("inspect", "--format", "{{.State.Health.Status}}", exporterName);
            return status !== "starting" && status;
          },
          30_000,
          "the image's HEALTHCHECK to report",
        );
        assert.equal(
          health,
          "healthy",
          await docker("inspect", "--format", "{{json .State.Health.Log}}", exporterName),
        );

        const pid = await docker("inspect", "--format", "{{.State.Pid}}", exporterName);
        // Read by `cat`: Deno grants /proc/<pid> only to --allow-all, which the test task does not give.
        const status = decoder.decode(
          (await new Deno.Command("cat", { args: [`/proc/${pid}/status`], stdout: "piped" }).output()).stdout,
        );
        const field = (key: string) => new RegExp(`^${key}:\\s*(.*)$`, "m").exec(status)?.[1].trim().split(/\s+/);
        assert.deepEqual(field("Uid"), ["65532", "65532", "65532", "65532"]);
        assert.deepEqual(field("Gid"), ["65532", "65532", "65532", "65532"]);
        const byNumber = (a: number, b: number) => a - b;
        assert.deepEqual(field("Groups")?.map(Number).sort(byNumber), [socketGid, 65532].sort(byNumber));
        assert.equal(field("CapEff")?.[0], "0000000000000000");
        assert.equal(field("NoNewPrivs")?.[0], "1");
      });

      await t.step(
        "as compose.yaml runs it, with the host's cgroup tree, /proc and data root mounted, resources come from cgroup " +
          "files and the data root's file system shows",
        async () => {
          // compose.yaml's service, minus its bridge network (none may be created here): host network, 127.0.0.1.
          const service = await composeService();
          const port = freePort();
          const name = scope.nameFor("exporter-compose");
          const socketGid = (await Deno.stat(DOCKER_SOCKET)).gid!;
          const environment = Object.entries(service.environment as Record<string, string>)
            .filter(([key]) => key !== "EXPORTER_HOST" && key !== "EXPORTER_PORT")
            .flatMap(([key, value]) => ["--env", `${key}=${value}`]);
          await runImage(name, port, [
            ...environment,
            ...(service.volumes as string[]).flatMap((volume) => ["--volume", volume]),
            "--group-add",
            String(socketGid),
          ]);
          const { id } = await scope.run({ name: "seen-from-cgroup" });
          const source = await scrapeFor(
            port,
            "docker_exporter_resource_source_info",
            { source: "cgroup" },
            "the cgroup source in the image",
          );
          assert.equal(source.value, 1, await containerLogs(name));
          await scrapeFor(port, "container_memory_usage_bytes", { id }, "memory read from the container's cgroup");
          assert.match(await containerLogs(name), /"collecting resource metrics from cgroup files"/);
          // The engine's data root at /host/data-root: its file system, named by the mount's source as cAdvisor names
          // it (the host's /proc is at /host/proc), and sized as statfs sizes it on the host.
          const [mountSource, blocks, blockSize] = (await runCommand("sh", [
            "-c",
            "df --output=source /var/lib/docker | tail -n 1; stat -f -c '%b %S' /var/lib/docker",
          ])).split(/\s+/);
          // On each container's series, as cAdvisor writes it.
          const limit = await scrapeFor(port, "container_fs_limit_bytes", { id }, "the data root's file system");
          assert.equal(limit.labels.device, mountSource, await containerLogs(name));
          assert.equal(limit.value, Number(blocks) * Number(blockSize));
          await docker("rm", "--force", name);
        },
      );

      await t.step(
        "without the socket's group it keeps serving, is not ready, and logs permission denied",
        async () => {
          const port = freePort();
          const name = scope.nameFor("exporter-no-group");
          await runImage(name, port, socketMount);
          // Once it has tried the socket and logged why it failed, it still serves, with docker_up 0 and not ready.
          const logs = await waitFor(
            async () => {
              const text = await containerLogs(name);
              return text.includes("permission denied") && text;
            },
            10_000,
            "the permission error in the log",
          );
          assert.match(
            logs,
            /Cannot connect to Docker at unix:\/\/\/var\/run\/docker\.sock: permission denied \(is this user in the socket's group\?\)/,
          );
          const up = await scrapeFor(port, "docker_up", {}, "the exporter without the socket's group");
          assert.equal(up.value, 0);
          const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
          await ready.body?.cancel();
          assert.equal(ready.status, 503);
          await docker("rm", "--force", name);
        },
      );

      await t.step(
        "behind a TCP proxy to the engine it needs no socket and no group, only --allow-net for the proxy",
        async () => {
          await using proxy = new TcpToSocketProxy(DOCKER_SOCKET);
          const config: ImageConfig = JSON.parse(await docker("image", "inspect", "--format", "{{json .Config}}", tag));
          // What compose.socket-proxy.yaml does with socket-proxy:2375 (deploy_test.ts checks it does exactly this).
          const entrypoint = config.Entrypoint.flatMap((word) =>
            /^--allow-(read|write)=\/var\/run\/docker\.sock$/.test(word)
              ? []
              : [word.replace("--allow-net=unix:/var/run/docker.sock,", `--allow-net=127.0.0.1:${proxy.port},`)]
          );
          const port = freePort();
          const name = scope.nameFor("exporter-tcp");
          await runImage(
            name,
            port,
            ["--env", `DOCKER_HOST=tcp://127.0.0.1:${proxy.port}`, "--entrypoint", entrypoint[0]],
            entrypoint.slice(1),
          );
          const { id } = await scope.run({ name: "seen-over-tcp" });
          await scrapeFor(port, "docker_container_info", { id }, "the exporter behind the TCP proxy");
          // An event can show the container before the first full sync ends; ready means that sync is done.
          await waitFor(
            async () => {
              const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
              await ready.body?.cancel();
              return ready.status === 200;
            },
            30_000,
            "/readyz to answer 200 behind the TCP proxy",
          );
          assert.ok(proxy.connections > 0);
          // Without the host's mounts it asks the engine's stats API, and says so once.
          const line = "collecting resource metrics from the engine's stats API";
          const logs = await waitFor(
            async () => {
              const text = await containerLogs(name);
              return text.includes(line) && text;
            },
            20_000,
            "the log line naming the stats API",
          );
          assert.equal(logs.split(line).length - 1, 1, logs);
          await docker("rm", "--force", name);
        },
      );

      await t.step("docker stop ends it with SIGTERM and exit status 0", async () => {
        await docker("stop", "--time", "10", exporterName);
        const state = await docker("inspect", "--format", "{{.State.ExitCode}} {{.State.OOMKilled}}", exporterName);
        assert.equal(state, "0 false", await containerLogs(exporterName));
        const lines = (await containerLogs(exporterName)).trim().split("\n").map((line) => JSON.parse(line));
        assert.ok(lines.some((line) => line.signal === "SIGTERM"), "no log line says it got SIGTERM");
      });
    } finally {
      for (const name of started) await docker("rm", "--force", name).catch(() => {});
      await docker("image", "rm", tag).catch(() => {});
    }
  },
});
