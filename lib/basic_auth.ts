/**
 * HTTP basic authentication in front of a handler, against bcrypt hashes from the web config.
 * Every attempt costs one bcrypt comparison, for unknown users too, so timing does not tell whether a user exists.
 */

/** Compares a password with a bcrypt hash (bcryptjs's `compare` in production). */
export type PasswordCheck = (password: string, hash: string) => Promise<boolean>;

/** Paths served without credentials: the liveness probe reveals nothing and must work for HEALTHCHECK. */
const OPEN_PATHS = new Set(["/healthz"]);

/**
 * Wraps `handler` so that requests need valid credentials; a failure answers 401 with a
 * `WWW-Authenticate` challenge and calls `onFailure` (which counts it). `dummyHash`, a hash of a random
 * password with the users' cost, is compared against for unknown users.
 */
export function withBasicAuth(
  handler: (request: Request) => Promise<Response>,
  users: ReadonlyMap<string, string>,
  check: PasswordCheck,
  dummyHash: string,
  onFailure: () => void,
): (request: Request) => Promise<Response> {
  return async (request) => {
    if (OPEN_PATHS.has(new URL(request.url).pathname)) return handler(request);
    const credentials = parseBasicAuth(request.headers.get("authorization"));
    const hash = credentials ? users.get(credentials.user) : undefined;
    const ok = await check(credentials?.password ?? "", hash ?? dummyHash);
    if (ok && hash !== undefined) return handler(request);
    onFailure();
    return new Response("Unauthorized\n", {
      status: 401,
      headers: { "WWW-Authenticate": 'Basic realm="docker-exporter", charset="UTF-8"', "Content-Type": "text/plain" },
    });
  };
}

/** Decodes an `Authorization: Basic ...` header; `undefined` when absent or malformed. */
export function parseBasicAuth(header: string | null): { user: string; password: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? "");
  if (!match) return undefined;
  let decoded: string;
  try {
    decoded = new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(atob(match[1]), (c) => c.charCodeAt(0)));
  } catch {
    return undefined;
  }
  const colon = decoded.indexOf(":");
  return colon < 0 ? undefined : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
