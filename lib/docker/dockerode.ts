/**
 * Loads dockerode without the parts a read-only exporter never runs.
 *
 * dockerode `require`s docker-modem (its HTTP transport over node:http, with ssh2 for ssh:// hosts), its BuildKit
 * session code (@grpc/grpc-js, @grpc/proto-loader, node:crypto), tar-fs and @balena/dockerignore (image builds and
 * archives) as soon as it loads. The exporter gives dockerode a modem of its own (`modem.ts`) and makes GET
 * requests only, so none of that ever runs, and evaluating it would cost resident memory for nothing (see
 * bench/RESULTS.md). While dockerode loads, those `require`s get a stand-in that throws a clear error if anything
 * ever uses it; every other `require` goes through untouched.
 */
import Module from "node:module";

/** The dockerode class. */
export type DockerodeConstructor = typeof import("dockerode").default;

/** The packages dockerode loads eagerly but the exporter never uses, with the feature each serves. */
export const SKIPPED_DOCKERODE_PARTS: ReadonlyMap<string, string> = new Map([
  ["docker-modem", "dockerode clients without the exporter's own modem"],
  ["./session", "BuildKit sessions"],
  ["ssh2", "ssh:// Docker hosts"],
  ["@grpc/grpc-js", "BuildKit sessions"],
  ["@grpc/proto-loader", "BuildKit sessions"],
  ["tar-fs", "image builds and archives"],
  ["@balena/dockerignore", "image builds"],
]);

type LoadFunction = (this: unknown, request: string, ...rest: unknown[]) => unknown;

/** Node's CommonJS loader, as Deno's node compatibility layer exposes it. */
const commonJsLoader = Module as unknown as { _load: LoadFunction };

let loading: Promise<DockerodeConstructor> | undefined;

/**
 * Returns the dockerode class, loading it on the first call with the parts in `SKIPPED_DOCKERODE_PARTS`
 * replaced by stand-ins. Later calls return the same class.
 */
export function loadDockerode(): Promise<DockerodeConstructor> {
  loading ??= loadWithStandIns();
  return loading;
}

async function loadWithStandIns(): Promise<DockerodeConstructor> {
  const load = commonJsLoader._load;
  try {
    commonJsLoader._load = function (request, ...rest) {
      const feature = SKIPPED_DOCKERODE_PARTS.get(request);
      return feature === undefined ? load.call(this, request, ...rest) : standIn(request, feature);
    };
  } catch {
    // A runtime whose CommonJS loader cannot be replaced: load all of dockerode, at the memory cost above.
    return (await import("dockerode")).default;
  }
  try {
    return (await import("dockerode")).default;
  } finally {
    commonJsLoader._load = load;
  }
}

/**
 * A module whose every export is a function that throws: dockerode reads exports such as `require("ssh2").Client`
 * while it loads, and only calls them for the features the exporter does not use.
 */
function standIn(name: string, feature: string): unknown {
  // A plain function, so that `new Client()` reaches the throw too; and the module itself is one, for a package
  // such as docker-modem whose export is the class (`new Modem()`).
  const refuse = function () {
    throw new Error(`docker-exporter does not load ${name}: ${feature} are not supported`);
  };
  return new Proxy(refuse, {
    get: (_target, key) => key === "__esModule" ? false : refuse,
    apply: refuse,
    construct: refuse,
  });
}
