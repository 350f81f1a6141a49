/**
 * The web configuration file Prometheus exporters share (exporter-toolkit's `--web.config.file`):
 * TLS for the listener and bcrypt-hashed basic-auth users. Parsing is pure; loading reads the files.
 */
import { ENV_PERMISSION, missingOf, PermissionNeeded, type PermissionQuery } from "./permissions.ts";
import { ConfigError } from "./settings.ts";

/** A validated web configuration. */
export interface WebConfig {
  /** PEM text of the certificate chain and key, when TLS is on. */
  tls?: { certFile: string; keyFile: string };
  /** user name → bcrypt hash. Empty: no authentication. */
  basicAuthUsers: Map<string, string>;
}

const TLS_FIELDS = new Set(["cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version"]);
/**
 * `$2a$`, `$2b$` or `$2y$`, a cost of 4 to 31, then salt and hash: what bcrypt defines. bcryptjs cannot compare
 * other variants (`$2$` never matches) or costs (it throws). `MAX_BCRYPT_COST` then bounds the cost.
 */
const BCRYPT_HASH = /^\$2[aby]\$(?:0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;
/**
 * The highest bcrypt cost accepted. Each step of cost doubles the time of a comparison, and a scrape whose
 * credentials are not remembered waits for the comparisons queued ahead of it (see `basic_auth.ts`) and then its
 * own: up to cost 12 that stays well within Prometheus's default 10 s scrape timeout. At 31, making the decoy hash
 * alone would keep a core busy for hours before the exporter listens.
 */
const MAX_BCRYPT_COST = 12;
/** `min_version` values the listener honours: Deno's TLS server speaks TLS 1.2 and 1.3, never anything older. */
const MIN_VERSIONS = new Set(["TLS10", "TLS11", "TLS12"]);

/**
 * Validates a parsed YAML document (as `yaml.parse` returns it) from the file at `path`.
 * Relative file names are resolved against the file's directory, as exporter-toolkit does.
 * @throws ConfigError naming the field and what it accepts.
 */
export function parseWebConfig(document: unknown, path: string): WebConfig {
  const where = (field: string) => `--web.config.file ${path}: ${field}`;
  if (document === null || document === undefined) return { basicAuthUsers: new Map() };
  if (typeof document !== "object" || Array.isArray(document)) {
    throw new ConfigError(`--web.config.file ${path} must be a YAML mapping`);
  }
  const root = document as Record<string, unknown>;
  for (const key of Object.keys(root)) {
    if (key !== "tls_server_config" && key !== "basic_auth_users") {
      throw new ConfigError(`${where(key)} is not supported; use tls_server_config and basic_auth_users`);
    }
  }
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/") + 1) : "./";
  const resolve = (file: string) => (file.startsWith("/") ? file : dir + file);

  let tls: WebConfig["tls"];
  if (root.tls_server_config !== undefined && root.tls_server_config !== null) {
    const section = mapping(root.tls_server_config, where("tls_server_config"));
    for (const key of Object.keys(section)) {
      if (!TLS_FIELDS.has(key)) {
        throw new ConfigError(
          `${where(`tls_server_config.${key}`)} is not supported; use ${[...TLS_FIELDS].join(", ")}`,
        );
      }
    }
    const file = (key: string) => {
      const value = section[key];
      if (typeof value !== "string" || value === "") {
        throw new ConfigError(`${where(`tls_server_config.${key}`)} is required: the path of a PEM file`);
      }
      return resolve(value);
    };
    const clientAuth = section.client_auth_type ?? "NoClientCert";
    if (clientAuth !== "NoClientCert") {
      throw new ConfigError(
        `${where("tls_server_config.client_auth_type")} ${
          JSON.stringify(clientAuth)
        } is not supported: Deno's TLS server cannot verify client certificates; use NoClientCert with basic_auth_users`,
      );
    }
    if (section.client_ca_file !== undefined) {
      throw new ConfigError(
        `${where("tls_server_config.client_ca_file")} is not supported without client certificates`,
      );
    }
    if (section.min_version === "TLS13") {
      throw new ConfigError(
        `${where("tls_server_config.min_version")} "TLS13" is not supported: ` +
          "Deno's TLS server cannot refuse TLS 1.2 clients; use TLS12",
      );
    }
    if (section.min_version !== undefined && !MIN_VERSIONS.has(section.min_version as string)) {
      throw new ConfigError(`${where("tls_server_config.min_version")} must be TLS10, TLS11 or TLS12`);
    }
    tls = { certFile: file("cert_file"), keyFile: file("key_file") };
  }

  const basicAuthUsers = new Map<string, string>();
  if (root.basic_auth_users !== undefined && root.basic_auth_users !== null) {
    const users = mapping(root.basic_auth_users, where("basic_auth_users"));
    for (const [user, hash] of Object.entries(users)) {
      if (user === "" || user.includes(":")) {
        throw new ConfigError(`${where(`basic_auth_users.${user}`)}: a user name cannot be empty or contain ':'`);
      }
      if (typeof hash !== "string" || !BCRYPT_HASH.test(hash)) {
        throw new ConfigError(
          `${
            where(`basic_auth_users.${user}`)
          } is not a bcrypt hash ($2a$, $2b$ or $2y$ with a cost from 04 to 31); make one with \`htpasswd -nBC 10 "" | tr -d ':\\n'\``,
        );
      }
      if (bcryptCost(hash) > MAX_BCRYPT_COST) {
        throw new ConfigError(
          `${where(`basic_auth_users.${user}`)} has bcrypt cost ${bcryptCost(hash)}, above the limit of ` +
            `${MAX_BCRYPT_COST}: each step of cost doubles the time every password check takes, and a scrape must ` +
            `not wait for checks longer than its timeout; make a hash with \`htpasswd -nBC 10 "" | tr -d ':\\n'\``,
        );
      }
      basicAuthUsers.set(user, hash);
    }
    // A refusal costs one comparison at the users' cost, against a decoy for unknown users: with mixed costs, how
    // long a refusal takes would tell which users exist.
    /** The first user of each cost: `$2b$10$...` has cost 10. */
    const costs = new Map<string, string>();
    for (const [user, hash] of basicAuthUsers) {
      const cost = hash.slice(4, 6);
      if (!costs.has(cost)) costs.set(cost, user);
    }
    if (costs.size > 1) {
      const [[first, firstUser], [second, secondUser]] = costs;
      throw new ConfigError(
        `${where("basic_auth_users")}: every hash must have the same bcrypt cost (${firstUser} has ${first}, ` +
          `${secondUser} has ${second}), or the time a refusal takes tells which users exist`,
      );
    }
  }
  return { tls, basicAuthUsers };
}

/** What a file that is not a regular one is ("a FIFO"); `undefined` for a regular file. Symbolic links are followed. */
function fileKind(info: Deno.FileInfo): string | undefined {
  if (info.isFile) return undefined;
  if (info.isDirectory) return "a directory";
  if (info.isFifo) return "a FIFO";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  if (info.isSocket) return "a socket";
  return "something else";
}

/** The cost of a bcrypt hash that `parseWebConfig` accepted: `$2b$10$...` has cost 10. */
export function bcryptCost(hash: string): number {
  return Number(hash.slice(4, 6));
}

function mapping(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError(`${where} must be a mapping`);
  }
  return value as Record<string, unknown>;
}

/**
 * Reads and validates the web configuration file, and the certificate and key it names.
 * @throws ConfigError for a missing or unreadable file, one that is not a regular file, bad YAML, a bad field, or a
 * certificate and key the TLS server could not use.
 */
export async function loadWebConfig(
  path: string,
  options: { setting: string; query: PermissionQuery } = {
    setting: `--web.config.file ${path}`,
    query: () => "granted",
  },
): Promise<{ config: WebConfig; cert?: string; key?: string }> {
  const missing = missingOf([{ kind: "read", value: path, setting: options.setting }], options.query);
  if (missing.length > 0) throw new PermissionNeeded(missing);
  const read = async (file: string, what: string) => {
    try {
      // Opening a FIFO waits for a writer, and a device may never end: only a regular file is read.
      const kind = fileKind(await Deno.stat(file));
      if (kind !== undefined) throw new ConfigError(`cannot read ${what} ${file}: ${kind}, not a regular file`);
      return await Deno.readTextFile(file);
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      if (error instanceof Deno.errors.PermissionDenied) {
        // The file system's permission, not Deno's: say whose it is, as the image runs as another user than whoever
        // made the file.
        throw new ConfigError(
          `cannot read ${what} ${file}: the file is not readable by the user the exporter runs as (in the image, ` +
            "uid 65532: chown or chmod it)",
        );
      }
      const hint = error instanceof Deno.errors.NotCapable ? ` (grant it with --allow-read=${file})` : "";
      throw new ConfigError(`cannot read ${what} ${file}: ${(error as Error).message}${hint}`);
    }
  };
  const { parse } = await import("yaml");
  let document: unknown;
  try {
    document = parse(await read(path, "--web.config.file"));
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    if (error instanceof Deno.errors.NotCapable) {
      // The yaml package reads its debug switches LOG_TOKENS and LOG_STREAM on every parse: the file is not at fault.
      throw new ConfigError(
        `cannot parse --web.config.file ${path}: ${(error as Error).message} ` +
          `(the YAML parser reads LOG_TOKENS and LOG_STREAM: grant ${ENV_PERMISSION})`,
      );
    }
    throw new ConfigError(`--web.config.file ${path} is not valid YAML: ${(error as Error).message.split("\n")[0]}`);
  }
  const config = parseWebConfig(document, path);
  if (!config.tls) return { config };
  const inFile = ` in ${path}`;
  const files = missingOf([
    {
      kind: "read",
      value: config.tls.certFile,
      setting: `tls_server_config.cert_file ${config.tls.certFile}${inFile}`,
    },
    { kind: "read", value: config.tls.keyFile, setting: `tls_server_config.key_file ${config.tls.keyFile}${inFile}` },
  ], options.query);
  if (files.length > 0) throw new PermissionNeeded(files);
  const cert = await read(config.tls.certFile, "tls_server_config.cert_file");
  const key = await read(config.tls.keyFile, "tls_server_config.key_file");
  await checkKeyPair(cert, key, config.tls);
  return { config, cert, key };
}

/** The first PEM certificate block, and the first PEM private key block with its headers. */
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/;
const PEM_PRIVATE_KEY = /-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY)-----[\s\S]*?-----END \1-----/;
/** The curves of the ECDSA keys Deno's TLS server can serve with, by their OpenSSL names. */
const SERVABLE_CURVES = new Set(["prime256v1", "secp384r1", "secp521r1"]);

/**
 * Checks what Deno's TLS server would otherwise refuse at listen time with a message that names no file: the key
 * file must hold an unencrypted private key of a type the server can use, the certificate file a certificate
 * whose public key is that key's. Both are parsed from their first PEM block of that kind, as the server does, so
 * a file holding the certificate and the key together is fine.
 * @throws ConfigError naming the file at fault, or both when they do not match.
 */
async function checkKeyPair(cert: string, key: string, files: { certFile: string; keyFile: string }): Promise<void> {
  const certField = `tls_server_config.cert_file ${files.certFile}`;
  const keyField = `tls_server_config.key_file ${files.keyFile}`;
  const certPem = PEM_CERTIFICATE.exec(cert)?.[0];
  if (certPem === undefined) throw new ConfigError(`${certField} holds no PEM certificate`);
  const keyPem = PEM_PRIVATE_KEY.exec(key)?.[0];
  if (keyPem === undefined) throw new ConfigError(`${keyField} holds no PEM private key`);
  // PKCS #8 says so in its label, the older formats in a Proc-Type header.
  if (keyPem.startsWith("-----BEGIN ENCRYPTED") || /^Proc-Type: *4, *ENCRYPTED/m.test(keyPem)) {
    throw new ConfigError(
      `${keyField} holds an encrypted private key, and the exporter takes no passphrase; ` +
        `decrypt it, e.g. with \`openssl pkey -in ${files.keyFile} -out server.key\``,
    );
  }
  // Loaded only for TLS, like the YAML parser for a web config.
  const { createPrivateKey, X509Certificate } = await import("node:crypto");
  const firstLine = (error: unknown) => String((error as Error)?.message ?? error).split("\n")[0];
  let privateKey;
  try {
    privateKey = createPrivateKey(keyPem);
  } catch (error) {
    throw new ConfigError(`${keyField} holds a private key that cannot be read: ${firstLine(error)}`);
  }
  const type = privateKey.asymmetricKeyType;
  const curve = privateKey.asymmetricKeyDetails?.namedCurve;
  if (!(type === "rsa" || type === "ed25519" || (type === "ec" && SERVABLE_CURVES.has(curve ?? "")))) {
    throw new ConfigError(
      `${keyField} holds a key of type ${type}${curve ? ` on curve ${curve}` : ""}, which Deno's TLS server ` +
        "cannot use; use an RSA, ECDSA (P-256, P-384 or P-521) or Ed25519 key",
    );
  }
  let certificate;
  try {
    certificate = new X509Certificate(certPem);
  } catch (error) {
    throw new ConfigError(`${certField} holds a certificate that cannot be read: ${firstLine(error)}`);
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new ConfigError(`${keyField} does not match the certificate in ${certField}`);
  }
}
