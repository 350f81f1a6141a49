/**
 * The Docker exporter: wires configuration, Docker access, the container registry, the tracker
 * and the HTTP server, and handles signals. The only module with side effects at load.
 */
import {
  bcryptCost,
  ConfigError,
  ENV_PERMISSION,
  helpText,
  hostPort,
  loadWebConfig,
  parseConfig,
} from "./lib/config/mod.ts";
import { createLogger, VERSION } from "./lib/shared/mod.ts";
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
    command = parseConfig(args, readEnv);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    stderr(`docker-exporter: ${error.message}`);
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
  const { config } = command;
  let web: Awaited<ReturnType<typeof loadWebConfig>> | undefined;
  try {
    if (config.webConfigFile) web = await loadWebConfig(config.webConfigFile);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    stderr(`docker-exporter: ${error.message}`);
    return 2;
  }
  if (command.kind === "healthcheck") return await probeHealth(config.host, config.port, web?.cert !== undefined);
  const logger = createLogger(config.logLevel, stderr, Date.now);
  const shutdown = new AbortController();

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
    const decoyHash = await bcrypt.hash(crypto.randomUUID(), bcryptCost(users.values().next().value!));
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

/**
 * `Deno.env.get` for `parseConfig`: a variable Deno refuses to read is a `ConfigError` naming the flag to add, not a
 * stack trace.
 */
function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
    throw new ConfigError(`cannot read ${name} from the environment; grant ${ENV_PERMISSION}`);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
