/**
 * HTTP basic authentication in front of a handler, against bcrypt hashes from the web config.
 *
 * Every 401 costs one bcrypt comparison, for unknown users too, so timing does not tell whether a user exists.
 * Right credentials are compared once, then recognised by a keyed digest for a while, as exporter-toolkit does, so
 * a scraper does not pay a comparison per scrape. Only a few comparisons may be under way at once; a request beyond
 * them is refused at once, before its user is looked up, so a flood of wrong passwords cannot queue work without end.
 */

/** Compares a password with a bcrypt hash (on the bcrypt worker thread in production). */
export type PasswordCheck = (password: string, hash: string) => Promise<boolean>;

/** What `withBasicAuth` needs. */
export interface BasicAuthOptions {
  /** user name → bcrypt hash. */
  users: ReadonlyMap<string, string>;
  /** Compares a password with a hash. */
  check: PasswordCheck;
  /** A hash of a random password at the users' cost, compared against for unknown users and missing credentials. */
  decoyHash: string;
  /** Called for each request refused for missing or wrong credentials (401). */
  onFailure: () => void;
  /** Called for each request refused because `maxComparisons` comparisons are under way (429). */
  onBusy: () => void;
  /** The clock, in ms, for the expiry of remembered credentials. */
  now: () => number;
  /** How many comparisons may be under way or waiting at once (default 4). */
  maxComparisons?: number;
  /** How long right credentials are remembered after their last use, in ms (default 5 minutes). */
  rememberMs?: number;
  /** How many right credentials are remembered at most (default 64); the least recently used go first. */
  maxRemembered?: number;
}

/** Paths served without credentials: the liveness probe reveals nothing and must work for HEALTHCHECK. */
const OPEN_PATHS = new Set(["/healthz"]);

const encoder = new TextEncoder();

/**
 * Wraps `handler` so that requests need valid credentials.
 * - Credentials that were right within `rememberMs` pass without a comparison.
 * - Otherwise, when `maxComparisons` comparisons are under way, the request is answered 429 with `Retry-After: 1`
 *   and `onBusy` is called, whoever the user is.
 * - Otherwise the password is compared with the user's hash, or with `decoyHash` when there is no such user or no
 *   credentials; a failure answers 401 with a `WWW-Authenticate` challenge and calls `onFailure`.
 */
export function withBasicAuth(
  handler: (request: Request) => Promise<Response>,
  options: BasicAuthOptions,
): (request: Request) => Promise<Response> {
  const { users, check, decoyHash, onFailure, onBusy, now } = options;
  const maxComparisons = options.maxComparisons ?? 4;
  const remembered = new RememberedCredentials(options.rememberMs ?? 5 * 60_000, options.maxRemembered ?? 64);
  // A random key of this process's own, so that no password is kept and the digests are worthless outside it.
  const hmacKey = crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const digest = async (user: string, password: string) => {
    // User names cannot contain ':', so `user:password` names one pair only.
    const mac = await crypto.subtle.sign("HMAC", await hmacKey, encoder.encode(`${user}:${password}`));
    return btoa(String.fromCharCode(...new Uint8Array(mac)));
  };
  let comparisons = 0;

  return async (request) => {
    if (OPEN_PATHS.has(new URL(request.url).pathname)) return handler(request);
    const credentials = parseBasicAuth(request.headers.get("authorization"));
    const key = credentials ? await digest(credentials.user, credentials.password) : undefined;
    if (key !== undefined && remembered.use(key, now())) return handler(request);
    if (comparisons >= maxComparisons) {
      onBusy();
      return new Response("Too Many Requests\n", {
        status: 429,
        headers: { "Retry-After": "1", "Content-Type": "text/plain" },
      });
    }
    const hash = credentials ? users.get(credentials.user) : undefined;
    comparisons++;
    let ok;
    try {
      ok = await check(credentials?.password ?? "", hash ?? decoyHash);
    } finally {
      comparisons--;
    }
    if (ok && hash !== undefined) {
      remembered.add(key!, now());
      return handler(request);
    }
    onFailure();
    return new Response("Unauthorized\n", {
      status: 401,
      headers: { "WWW-Authenticate": 'Basic realm="docker-exporter", charset="UTF-8"', "Content-Type": "text/plain" },
    });
  };
}

/**
 * Digests of credentials found right, each with when it expires; a use extends that. Map order is the order of
 * last use, so the first entry is the one to drop when full. Wrong credentials are never added: an attacker could
 * otherwise push the right ones out.
 */
class RememberedCredentials {
  readonly #expiry = new Map<string, number>();
  readonly #lifetimeMs: number;
  readonly #max: number;

  constructor(lifetimeMs: number, max: number) {
    this.#lifetimeMs = lifetimeMs;
    this.#max = max;
  }

  /** Whether `key` is remembered and unexpired at `now`; if so, its lifetime starts again. */
  use(key: string, now: number): boolean {
    const expiry = this.#expiry.get(key);
    if (expiry === undefined) return false;
    this.#expiry.delete(key);
    if (now >= expiry) return false;
    this.#expiry.set(key, now + this.#lifetimeMs);
    return true;
  }

  /** Remembers `key` from `now`, dropping the least recently used entry when full. */
  add(key: string, now: number): void {
    this.#expiry.delete(key);
    if (this.#expiry.size >= this.#max) this.#expiry.delete(this.#expiry.keys().next().value!);
    this.#expiry.set(key, now + this.#lifetimeMs);
  }
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
