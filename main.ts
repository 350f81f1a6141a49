/**
 * The Docker exporter: wires configuration, Docker access, the container registry, the tracker
 * and the HTTP server, and handles signals. The only module with side effects at load.
 */
import {
  bcryptCost,
  commandFor,
  type Config,
  ConfigError,
  ENV_PERMISSION,
  helpText,
  loadWebConfig,
  missingOf,
  type Need,
  needsOf,
  parseConfig,
  PermissionNeeded,
  type PermissionQuery,
  type Permissions,
  permissionsOf,
  socketCandidates,
  type Sources,
  START_PERMISSIONS,
  unionOf,
  withRuntimeDir,
} from "./lib/config/mod.ts";
import { fileURLToPath } from "node:url";
import { createLogger, hostPort, VERSION } from "./lib/shared/mod.ts";
import { createProcessReader } from "./lib/metrics/mod.ts";
import { buildExporter } from "./lib/exporter.ts";
import { loadDockerode } from "./lib/docker/mod.ts";
import { type HttpServer, serveHttp, startBcryptWorker, withBasicAuth } from "./lib/http/mod.ts";
import { ExporterStats } from "./lib/engine/mod.ts";

/** How long shutdown waits for in-flight work before giving up. */
const SHUTDOWN_GRACE_MS = 3_000;

/** Runs the exporter until SIGTERM or SIGINT; returns the process exit code. */
export async function main(args: string[]): Promise<number> {
  const encoder = new TextEncoder();
  const stderr = (line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n"));

  let command;
  try {
    const openable = args.some((arg) => /^(--help|-h|--version|--healthcheck)$/.test(arg))
      ? new Set<string>()
      : await openableSockets(args);
    command = parseConfig(args, readEnv, (path) => openable.has(path));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    stderr(`docker-exporter: ${error.message}`);
    if (error instanceof EnvNotGranted) stderr(commandWith(START_PERMISSIONS, args));
    return 2;
  }
  if (command.kind === "help") {
    console.log(helpText(VERSION));
    return 0;
  }
  if (command.kind === "version") {
    console.log(`docker-exporter ${VERSION} (deno ${Deno.version.deno})`);
    return 0;
  }
  const { config, sources } = command;
  let web: Awaited<ReturnType<typeof loadWebConfig>> | undefined;
  try {
    // A permission the configuration needs but the process lacks is a mistake of the command line, not a fault to
    // retry: say which setting needs what, and the whole command that grants it.
    if (command.kind === "run") {
      const missing = missingOf(needsOf(permissionInputs(config, sources)), queryPermission);
      if (missing.length > 0) throw new PermissionNeeded(missing);
      if (config.resourceMetrics === "cgroup") assertReadable(config, sources);
    }
    if (config.webConfigFile) {
      web = await loadWebConfig(config.webConfigFile, {
        setting: sources.of.get("webConfigFile")!,
        query: queryPermission,
      });
    }
  } catch (error) {
    if (error instanceof PermissionNeeded) {
      stderr(`docker-exporter: ${error.message}; run it with the permissions this configuration needs:`);
      stderr(grantingCommand(config, sources, error.needs, args));
      return 2;
    }
    if (!(error instanceof ConfigError)) throw error;
    stderr(`docker-exporter: ${error.message}`);
    return 2;
  }
  if (command.kind === "healthcheck") return await probeHealth(config.host, config.port, web?.cert !== undefined);
  const logger = createLogger(config.logLevel, stderr, Date.now);
  const shutdown = new AbortController();
  if (sources.discovery) {
    const { found, tried } = sources.discovery;
    if (found) {
      logger.info("DOCKER_HOST is unset; using the first engine socket that opens", {
        socket: found,
        looked_for: tried,
      });
    } else {
      logger.warn(
        "DOCKER_HOST is unset and no engine socket opens yet; waiting for the first (set DOCKER_HOST to choose another)",
        { looked_for: tried },
      );
    }
  }

  const exporter = buildExporter(config, {
    logger,
    now: Date.now,
    readProcess: createProcessReader(),
    signal: shutdown.signal,
    Docker: await loadDockerode(),
  });

  let handler = exporter.handler;
  const users = web?.config.basicAuthUsers;
  if (users && users.size > 0) {
    const bcrypt = startBcryptWorker();
    // Unknown users are checked against a hash of the same cost, so a refusal takes as long either way.
    let decoyHash: string;
    try {
      decoyHash = await bcrypt.hash(crypto.randomUUID(), bcryptCost(users.values().next().value!));
    } catch (error) {
      logger.error("cannot check passwords: the bcrypt worker did not start", { error });
      return 1;
    }
    handler = withBasicAuth(handler, {
      users,
      check: bcrypt.compare,
      decoyHash,
      onFailure: () => exporter.stats.authFailures++,
      onBusy: () => ExporterStats.increment(exporter.stats.httpRefusals, "auth_busy"),
      now: Date.now,
    });
  }

  let server: HttpServer;
  try {
    server = serveHttp({
      hostname: config.host,
      port: config.port,
      ...(web?.cert !== undefined ? { tls: { cert: web.cert, key: web.key! } } : {}),
      handler,
      signal: shutdown.signal,
      logger,
      stats: exporter.stats,
      maxConnections: config.maxConnections,
      onListen: ({ hostname, port }) =>
        logger.info("serving metrics", {
          address: `${web?.cert ? "https" : "http"}://${hostPort(hostname, port)}/metrics`,
          docker: config.docker.url,
          basic_auth: (users?.size ?? 0) > 0,
          max_connections: config.maxConnections,
        }),
    });
  } catch (error) {
    const address = hostPort(config.host, config.port);
    const hint = error instanceof Deno.errors.NotCapable
      ? `; grant it with --allow-net=${address}`
      : error instanceof Deno.errors.AddrInUse
      ? "; another process uses that port (set EXPORTER_PORT)"
      : "";
    logger.error(`cannot listen on ${address}${hint}`, { error });
    return 1;
  }

  const stop = (signal: string) => () => {
    if (shutdown.signal.aborted) return;
    logger.info("shutting down", { signal });
    shutdown.abort();
  };
  Deno.addSignalListener("SIGTERM", stop("SIGTERM"));
  Deno.addSignalListener("SIGINT", stop("SIGINT"));

  const following = exporter.run();
  await Promise.race([
    Promise.all([following, server.finished]),
    new Promise<void>((resolve) => {
      shutdown.signal.addEventListener("abort", () => Deno.unrefTimer(setTimeout(resolve, SHUTDOWN_GRACE_MS)), {
        once: true,
      });
    }),
  ]);
  return 0;
}

/**
 * The container HEALTHCHECK: asks the exporter on this host for `/healthz`; no shell or curl needed.
 * Returns 0 when it answers 200 within two seconds, else 1. Over TLS, whose certificate need not name
 * this address, a port that accepts the connection counts as healthy.
 */
async function probeHealth(host: string, port: number, tls: boolean): Promise<number> {
  const target = host === "0.0.0.0" || host === "::" || host === "[::]" ? "127.0.0.1" : host;
  if (tls) {
    try {
      const conn = await Deno.connect({ hostname: target, port });
      conn.close();
      return 0;
    } catch (error) {
      console.error(`${target}:${port} did not answer: ${(error as Error).message}`);
      return 1;
    }
  }
  const url = `http://${hostPort(target, port)}/healthz`;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await response.body?.cancel();
    if (response.ok) return 0;
    console.error(`${url} answered ${response.status}`);
  } catch (error) {
    console.error(`${url} did not answer: ${(error as Error).message}`);
  }
  return 1;
}

/** What Deno has granted of one permission. */
const queryPermission: PermissionQuery = ({ kind, value }) =>
  Deno.permissions.querySync(
    kind === "net"
      ? { name: "net", host: value }
      : kind === "sys"
      ? { name: "sys", kind: value as Deno.SysPermissionDescriptor["kind"] }
      : { name: kind, path: value },
  ).state;

/**
 * The standard engine sockets this process can open, for finding the engine when `DOCKER_HOST` is unset: one that
 * exists but refuses this user (the system engine's, for a rootless user outside its group) is passed over, as is one
 * Deno was not granted. Nothing is tried when an engine is named.
 */
async function openableSockets(args: readonly string[]): Promise<Set<string>> {
  const openable = new Set<string>();
  const named = args.some((arg) => arg === "--docker-host" || arg.startsWith("--docker-host="));
  if (named || lenientEnv("DOCKER_HOST")) return openable;
  for (const path of socketCandidates(lenientEnv("XDG_RUNTIME_DIR"))) {
    const granted = (["read", "write"] as const).every((kind) =>
      queryPermission({ kind, value: path }) === "granted"
    ) &&
      queryPermission({ kind: "net", value: `unix:${path}` }) === "granted";
    if (!granted) continue;
    try {
      (await Deno.connect({ transport: "unix", path })).close();
      openable.add(path);
    } catch { /* absent, refused or not ours: the next one */ }
  }
  return openable;
}

/** A variable's value, or `undefined` when it is unset or Deno may not read it (parseConfig then says so). */
function lenientEnv(name: string): string | undefined {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") return undefined;
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/** What of the configuration needs a permission, with each part's setting as the user wrote it. */
function permissionInputs(config: Config, sources: Sources) {
  const of = (field: keyof Config) => sources.of.get(field)!;
  return {
    docker: config.docker,
    dockerSetting: of("docker"),
    host: config.host,
    port: config.port,
    listenSetting: `${of("host")} and ${of("port")}`,
    resourceMetrics: config.resourceMetrics,
    cgroupRoot: config.cgroupRoot,
    procRoot: config.procRoot,
    dataRoot: config.dataRoot,
    // Granted as its directory: the certificate and key it names are usually beside it, and not known before it is read.
    files: config.webConfigFile
      ? [{ path: config.webConfigFile, setting: of("webConfigFile"), grant: directoryOf(config.webConfigFile) }]
      : [],
  };
}

/**
 * What to grant for a web config file: its directory (`/srv/web.yml` → `/srv`, `web.yml` → `.`), where the certificate
 * and key it names usually are, unless that directory is one a network-facing process should not read whole.
 */
function directoryOf(path: string): string {
  const directory = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
  return /^\/(tmp|root|home(\/[^/]+)?)?$/.test(directory) ? path : directory;
}

/**
 * With resource metrics only from cgroup files, their roots must be readable now: a grant Deno refuses anyway (under
 * /proc and /sys, without --allow-all) would otherwise leave a collector failing every interval.
 * @throws PermissionNeeded naming the root Deno refuses.
 */
function assertReadable(config: Config, sources: Sources): void {
  for (const [root, field] of [[config.cgroupRoot, "cgroupRoot"], [config.procRoot, "procRoot"]] as const) {
    try {
      Deno.readDirSync(root);
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) {
        throw new PermissionNeeded([{ kind: "read", value: root, setting: sources.of.get(field)! }]);
      }
    }
  }
}

/** The command that runs this exporter as it was asked to run, with the start task's grants and `missing` added. */
function grantingCommand(config: Config, sources: Sources, missing: readonly Need[], args: readonly string[]): string {
  const needed = permissionsOf([...needsOf(permissionInputs(config, sources)), ...missing]);
  return commandWith(unionOf(START_PERMISSIONS, needed), args);
}

/** The whole command that runs this exporter with `permissions` and the same arguments. */
function commandWith(permissions: Permissions, args: readonly string[]): string {
  // Not granted, the command leaves the rootless sockets out.
  return commandFor(withRuntimeDir(permissions, lenientEnv("XDG_RUNTIME_DIR")), {
    // A binary is built from the checkout's main.ts; `import.meta.url` would be the binary's own virtual path.
    main: Deno.build.standalone ? "main.ts" : fileURLToPath(import.meta.url),
    args,
    standalone: Deno.build.standalone,
  });
}

/** A variable the settings need that Deno may not read. */
class EnvNotGranted extends ConfigError {
  override name = "EnvNotGranted";
}

/**
 * `Deno.env.get` for `parseConfig`: a variable Deno refuses to read is a `ConfigError` naming the flag to add, not a
 * stack trace.
 */
function readEnv(name: string): string | undefined {
  // Asked first: on a terminal, Deno would otherwise prompt for each variable instead of this message.
  if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
    throw new EnvNotGranted(`cannot read ${name} from the environment; grant ${ENV_PERMISSION}, as in:`);
  }
  try {
    return Deno.env.get(name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
    throw new EnvNotGranted(`cannot read ${name} from the environment; grant ${ENV_PERMISSION}, as in:`);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
