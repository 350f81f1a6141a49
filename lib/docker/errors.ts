/** Errors from talking to the Docker engine, shared by the dockerode client and the raw socket reader. */
import type { DockerEndpoint } from "./endpoint.ts";

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

/**
 * The engine answered 2xx with a body that is not what the endpoint returns. Status 200 marks it as an answer: the
 * engine is up, the call failed. The message shows the first 80 characters of what came.
 */
export function unusableAnswer(operation: string, what: string, value: unknown): DockerApiError {
  const shown = value instanceof Uint8Array ? new TextDecoder().decode(value.subarray(0, 80)) : JSON.stringify(value);
  return new DockerApiError(
    `Docker answered ${operation} with ${what}: ${(shown ?? String(value)).slice(0, 80)}`,
    operation,
    200,
  );
}
