/**
 * Read-only Docker Engine API calls through dockerode: version, info, container list and inspect.
 * Every call has a timeout; only GET endpoints are ever used.
 */
import Docker from "dockerode";
import type { DockerEndpoint } from "./config.ts";
import { describeConnectError, DockerApiError } from "./docker_errors.ts";

/** `GET /version`, the fields the exporter uses. */
export interface EngineVersion {
  Version: string;
  ApiVersion: string;
  MinAPIVersion?: string;
  Os: string;
  KernelVersion: string;
}

/** `GET /info`, the fields the exporter uses. */
export interface EngineInfo {
  Name: string;
}

/** One entry of `GET /containers/json?all=1`. */
export interface ContainerSummary {
  Id: string;
  Names?: string[];
  State?: string;
  Status?: string;
}

/** `GET /containers/{id}/json`, the fields the exporter uses. */
export interface ContainerInspect {
  Id: string;
  Name: string;
  Image: string;
  Created: string;
  RestartCount: number;
  Config: { Image: string; Labels?: Record<string, string> | null };
  State: {
    Status: string;
    StartedAt: string;
    FinishedAt: string;
    ExitCode: number;
    OOMKilled: boolean;
    Health?: { Status: string; FailingStreak: number } | null;
  };
}

/** The read-only calls the exporter makes; `main.ts` builds the dockerode one, tests may pass their own. */
export interface DockerApi {
  /** `GET /version` without a version prefix, so any engine answers; used to negotiate. */
  version(): Promise<EngineVersion>;
  /** Pins later calls to `apiVersion` (e.g. "1.41"). */
  useApiVersion(apiVersion: string): void;
  info(): Promise<EngineInfo>;
  listContainers(): Promise<ContainerSummary[]>;
  /** Returns `undefined` when the container no longer exists (404). */
  inspectContainer(id: string): Promise<ContainerInspect | undefined>;
}

/** The oldest API version whose fields the exporter relies on (Docker 1.13). */
export const MIN_API_VERSION = "1.25";

/** Compares two API versions such as "1.41" and "1.9" numerically. */
export function compareApiVersions(a: string, b: string): number {
  const [aMajor, aMinor] = a.split(".").map(Number);
  const [bMajor, bMinor] = b.split(".").map(Number);
  return aMajor !== bMajor ? aMajor - bMajor : (aMinor || 0) - (bMinor || 0);
}

/**
 * Picks the API version to speak: the engine's own current version, which it always accepts
 * (Docker 29 refuses anything below 1.44, Debian's 20.10 tops out at 1.41).
 * @throws DockerApiError when the engine is older than `MIN_API_VERSION` or reports no version.
 */
export function negotiateApiVersion(engine: Pick<EngineVersion, "ApiVersion">): string {
  const version = engine.ApiVersion;
  if (typeof version !== "string" || !/^\d+\.\d+$/.test(version)) {
    throw new DockerApiError(`Docker reported no usable API version (${JSON.stringify(version)})`, "version");
  }
  if (compareApiVersions(version, MIN_API_VERSION) < 0) {
    throw new DockerApiError(
      `Docker API ${version} is too old; the exporter needs ${MIN_API_VERSION} (Docker 1.13) or newer`,
      "version",
    );
  }
  return version;
}

/**
 * Builds the dockerode-backed `DockerApi`. Every call is aborted after `timeoutMs`, or when `signal` aborts.
 * Failures become `DockerApiError`s naming the operation, with the HTTP status when there was one.
 */
export function createDockerApi(
  endpoint: DockerEndpoint,
  options: { timeoutMs: number; signal?: AbortSignal },
): DockerApi {
  const connection = endpoint.kind === "unix"
    ? { socketPath: endpoint.path }
    : { host: endpoint.hostname, port: endpoint.port, protocol: "http" as const };
  let docker = new Docker(connection);

  async function call<T>(operation: string, run: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const abortSignal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
    try {
      return await run(abortSignal);
    } catch (error) {
      const status = (error as { statusCode?: number }).statusCode;
      if (status !== undefined) {
        const reason = (error as { json?: { message?: string } }).json?.message ?? (error as Error).message;
        throw new DockerApiError(`Docker answered ${status} to ${operation}: ${reason}`, operation, status, {
          cause: error,
        });
      }
      const message = timeout.aborted
        ? `Docker did not answer ${operation} within ${options.timeoutMs} ms`
        : options.signal?.aborted
        ? `${operation} was cancelled`
        : describeConnectError(endpoint, error);
      throw new DockerApiError(message, operation, undefined, { cause: error });
    }
  }

  return {
    version: () => call("version", (abortSignal) => docker.version({ abortSignal }) as Promise<EngineVersion>),
    useApiVersion(apiVersion: string) {
      docker = new Docker({ ...connection, version: `v${apiVersion}` });
    },
    info: () => call("info", (abortSignal) => docker.info({ abortSignal }) as Promise<EngineInfo>),
    listContainers: () =>
      call("list", (abortSignal) => docker.listContainers({ all: true, abortSignal }) as Promise<ContainerSummary[]>),
    inspectContainer: (id: string) =>
      call("inspect", async (abortSignal) => {
        try {
          return await docker.getContainer(id).inspect({ abortSignal }) as ContainerInspect;
        } catch (error) {
          if ((error as { statusCode?: number }).statusCode === 404) return undefined;
          throw error;
        }
      }),
  };
}
