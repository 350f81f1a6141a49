/**
 * The Docker exporter: wires configuration, Docker access, the container registry, the tracker
 * and the HTTP server, and handles signals. The only module with side effects at load.
 */
import { ConfigError, helpText, parseConfig } from "./lib/config.ts";
import { createLogger } from "./lib/logger.ts";
import { createProcessReader } from "./lib/process_metrics.ts";
import { buildExporter } from "./lib/exporter.ts";
import { VERSION } from "./lib/version.ts";

/** How long shutdown waits for in-flight work before giving up. */
const SHUTDOWN_GRACE_MS = 3_000;

/** Runs the exporter until SIGTERM or SIGINT; returns the process exit code. */
export async function main(args: string[]): Promise<number> {
  const encoder = new TextEncoder();
  const stderr = (line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n"));

  let command;
  try {
    command = parseConfig(args, (name) => Deno.env.get(name));
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
  if (command.kind === "healthcheck") return await probeHealth(config.host, config.port);
  const logger = createLogger(config.logLevel, stderr, Date.now);
  const shutdown = new AbortController();

  const exporter = buildExporter(config, {
    logger,
    now: Date.now,
    readProcess: createProcessReader(),
    signal: shutdown.signal,
  });

  let server: Deno.HttpServer;
  try {
    server = Deno.serve({
      hostname: config.host,
      port: config.port,
      signal: shutdown.signal,
      onListen: ({ hostname, port }) =>
        logger.info("serving metrics", { address: `http://${hostname}:${port}/metrics`, docker: config.docker.url }),
      onError: (error) => {
        logger.error("request failed", { error });
        return new Response("internal error\n", { status: 500 });
      },
    }, exporter.handler);
  } catch (error) {
    const hint = error instanceof Deno.errors.NotCapable
      ? `; grant it with --allow-net=${config.host}:${config.port}`
      : error instanceof Deno.errors.AddrInUse
      ? "; another process uses that port (set EXPORTER_PORT)"
      : "";
    logger.error(`cannot listen on ${config.host}:${config.port}${hint}`, { error });
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
 * Returns 0 when it answers 200 within two seconds, else 1.
 */
async function probeHealth(host: string, port: number): Promise<number> {
  const target = host === "0.0.0.0" || host === "::" || host === "[::]" ? "127.0.0.1" : host;
  const url = `http://${target.includes(":") && !target.startsWith("[") ? `[${target}]` : target}:${port}/healthz`;
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

if (import.meta.main) Deno.exit(await main(Deno.args));
