/** Errors from talking to the Docker engine, shared by the dockerode client and the raw socket reader. */
import type { DockerEndpoint } from "./config.ts";

/** A failed call to the Docker Engine API: `status` is the HTTP status, or undefined when no answer came. */
export class DockerApiError extends Error {
  override name = "DockerApiError";
  constructor(
    message: string,
    readonly operation: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Says why a connection failed in words an operator acts on: `permission denied`, `no such socket`, ... */
export function describeConnectError(endpoint: DockerEndpoint, error: unknown): string {
  const code = (error as { code?: string })?.code;
  const reason = error instanceof Deno.errors.PermissionDenied || code === "EACCES"
    ? "permission denied (is this user in the socket's group?)"
    : error instanceof Deno.errors.NotFound || code === "ENOENT"
    ? "no such socket (is Docker running?)"
    : error instanceof Deno.errors.ConnectionRefused || code === "ECONNREFUSED"
    ? "connection refused (is Docker running?)"
    : error instanceof Deno.errors.NotCapable
    ? `the exporter lacks the Deno permission: ${(error as Error).message}`
    : (error as Error)?.message ?? String(error);
  return `Cannot connect to Docker at ${endpoint.url}: ${reason}`;
}
