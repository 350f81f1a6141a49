/**
 * The `--web.config.file` parser and loader (exporter-toolkit's format): what is accepted, and the exact
 * message for each thing refused, which must name the field so an operator can fix it.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../../../lib/config/settings.ts";
import { loadWebConfig, parseWebConfig, type WebConfig } from "../../../lib/config/web_config.ts";

const PATH = "/etc/docker-exporter/web.yml";
/** A well-formed bcrypt hash (of "secret", cost 10); the parser checks the shape, not the password. */
const HASH = "$2b$10$HRnLZskRYnwnOJNie3fGCuaVDKXhS2XQeYuZjG31Lcfx/qCw1F67y";

function refused(document: unknown, message: string): void {
  assert.throws(() => parseWebConfig(document, PATH), (error: unknown) => {
    assert.ok(error instanceof ConfigError, `not a ConfigError: ${error}`);
    assert.equal(error.message, message);
    return true;
  });
}

Deno.test("parseWebConfig() of an empty file means plain HTTP without authentication", () => {
  assert.deepEqual(parseWebConfig(null, PATH), { basicAuthUsers: new Map() });
  assert.deepEqual(parseWebConfig(undefined, PATH), { basicAuthUsers: new Map() });
});

Deno.test("parseWebConfig() resolves relative certificate paths against the config file's directory", () => {
  const config = parseWebConfig({
    tls_server_config: { cert_file: "tls/server.pem", key_file: "/abs/server.key", client_auth_type: "NoClientCert" },
    basic_auth_users: { prometheus: HASH, "ops user": HASH.replace("$2b$", "$2y$") },
  }, PATH);
  const expected: WebConfig = {
    tls: { certFile: "/etc/docker-exporter/tls/server.pem", keyFile: "/abs/server.key" },
    basicAuthUsers: new Map([["prometheus", HASH], ["ops user", HASH.replace("$2b$", "$2y$")]]),
  };
  assert.deepEqual(config, expected);
  assert.deepEqual(parseWebConfig({ tls_server_config: { cert_file: "c.pem", key_file: "k.pem" } }, "web.yml").tls, {
    certFile: "./c.pem",
    keyFile: "./k.pem",
  });
});

Deno.test("parseWebConfig() accepts basic auth without TLS, and TLS without basic auth", () => {
  assert.deepEqual(parseWebConfig({ basic_auth_users: { a: HASH } }, PATH), {
    tls: undefined,
    basicAuthUsers: new Map([["a", HASH]]),
  });
  assert.deepEqual(parseWebConfig({ tls_server_config: { cert_file: "/c", key_file: "/k" } }, PATH), {
    tls: { certFile: "/c", keyFile: "/k" },
    basicAuthUsers: new Map(),
  });
});

Deno.test("parseWebConfig() accepts each min_version the listener honours", () => {
  for (const version of ["TLS10", "TLS11", "TLS12"]) {
    const config = parseWebConfig(
      { tls_server_config: { cert_file: "/c", key_file: "/k", min_version: version } },
      PATH,
    );
    assert.deepEqual(config.tls, { certFile: "/c", keyFile: "/k" }, version);
  }
});

const refusals: { name: string; document: unknown; message: string }[] = [
  { name: "a list", document: ["tls_server_config"], message: `--web.config.file ${PATH} must be a YAML mapping` },
  { name: "a string", document: "tls", message: `--web.config.file ${PATH} must be a YAML mapping` },
  {
    name: "an unknown top-level key",
    document: { http_server_config: { http2: false } },
    message:
      `--web.config.file ${PATH}: http_server_config is not supported; use tls_server_config and basic_auth_users`,
  },
  {
    name: "tls_server_config that is not a mapping",
    document: { tls_server_config: "server.pem" },
    message: `--web.config.file ${PATH}: tls_server_config must be a mapping`,
  },
  {
    name: "no cert_file",
    document: { tls_server_config: { key_file: "k.pem" } },
    message: `--web.config.file ${PATH}: tls_server_config.cert_file is required: the path of a PEM file`,
  },
  {
    name: "an empty key_file",
    document: { tls_server_config: { cert_file: "c.pem", key_file: "" } },
    message: `--web.config.file ${PATH}: tls_server_config.key_file is required: the path of a PEM file`,
  },
  {
    name: "a numeric cert_file",
    document: { tls_server_config: { cert_file: 42, key_file: "k.pem" } },
    message: `--web.config.file ${PATH}: tls_server_config.cert_file is required: the path of a PEM file`,
  },
  {
    name: "cipher_suites",
    document: { tls_server_config: { cert_file: "c", key_file: "k", cipher_suites: ["TLS_AES_128_GCM_SHA256"] } },
    message: `--web.config.file ${PATH}: tls_server_config.cipher_suites is not supported; ` +
      "use cert_file, key_file, client_auth_type, client_ca_file, min_version",
  },
  ...["RequireAndVerifyClientCert", "VerifyClientCertIfGiven", "RequireAnyClientCert", "RequestClientCert"].map(
    (type) => ({
      name: `client_auth_type ${type}`,
      document: { tls_server_config: { cert_file: "c", key_file: "k", client_auth_type: type } },
      message: `--web.config.file ${PATH}: tls_server_config.client_auth_type "${type}" is not supported: ` +
        "Deno's TLS server cannot verify client certificates; use NoClientCert with basic_auth_users",
    }),
  ),
  {
    name: "client_ca_file",
    document: { tls_server_config: { cert_file: "c", key_file: "k", client_ca_file: "ca.pem" } },
    message: `--web.config.file ${PATH}: tls_server_config.client_ca_file is not supported without client certificates`,
  },
  {
    name: "min_version TLS13, which the listener cannot enforce",
    document: { tls_server_config: { cert_file: "c", key_file: "k", min_version: "TLS13" } },
    message: `--web.config.file ${PATH}: tls_server_config.min_version "TLS13" is not supported: ` +
      "Deno's TLS server cannot refuse TLS 1.2 clients; use TLS12",
  },
  {
    name: "min_version 1.2",
    document: { tls_server_config: { cert_file: "c", key_file: "k", min_version: "1.2" } },
    message: `--web.config.file ${PATH}: tls_server_config.min_version must be TLS10, TLS11 or TLS12`,
  },
  {
    name: "basic_auth_users that is a list",
    document: { basic_auth_users: ["prometheus"] },
    message: `--web.config.file ${PATH}: basic_auth_users must be a mapping`,
  },
  {
    name: "a user name with a colon",
    document: { basic_auth_users: { "a:b": HASH } },
    message: `--web.config.file ${PATH}: basic_auth_users.a:b: a user name cannot be empty or contain ':'`,
  },
  {
    name: "users whose hashes have different bcrypt costs",
    document: { basic_auth_users: { fast: HASH.replace("$10$", "$04$"), admin: HASH, other: HASH } },
    message: `--web.config.file ${PATH}: basic_auth_users: every hash must have the same bcrypt cost (fast has 04, ` +
      "admin has 10), or the time a refusal takes tells which users exist",
  },
  {
    name: "an empty user name",
    document: { basic_auth_users: { "": HASH } },
    message: `--web.config.file ${PATH}: basic_auth_users.: a user name cannot be empty or contain ':'`,
  },
  ...[
    ["a plain-text password", "secret"],
    ["a number", 12345],
    ["a SHA-256 crypt hash", "$5$rounds=5000$saltsalt$Gbjgi/6N9cVDvj8XnSLNdNfrhaDK4Lpmlu3XRQ3uXm1"],
    ["cost 03, which bcryptjs refuses to compare", HASH.replace("$10$", "$03$")],
    ["cost 32, whose decoy hash would never finish", HASH.replace("$10$", "$32$")],
    ["cost 99", HASH.replace("$10$", "$99$")],
    ["the $2$ variant, which bcryptjs never matches", HASH.replace("$2b$", "$2$")],
    ["the $2x$ variant", HASH.replace("$2b$", "$2x$")],
    ["a hash one character short", HASH.slice(0, -1)],
  ].map(([what, hash]) => ({
    name: `a hash that is ${what}`,
    document: { basic_auth_users: { prometheus: hash } },
    message: `--web.config.file ${PATH}: basic_auth_users.prometheus is not a bcrypt hash ` +
      "($2a$, $2b$ or $2y$ with a cost from 04 to 31); make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`",
  })),
];

for (const { name, document, message } of refusals) {
  Deno.test(`parseWebConfig() refuses ${name}, naming the field`, () => refused(document, message));
}

Deno.test("parseWebConfig() accepts bcrypt costs 04 and 12 and the $2a$, $2b$ and $2y$ variants", () => {
  for (const hash of [HASH.replace("$10$", "$04$"), HASH.replace("$10$", "$12$"), HASH.replace("$2b$", "$2a$")]) {
    assert.deepEqual(parseWebConfig({ basic_auth_users: { u: hash } }, PATH).basicAuthUsers, new Map([["u", hash]]));
  }
});

for (const cost of ["13", "14", "31"]) {
  Deno.test(`parseWebConfig() refuses bcrypt cost ${cost}, naming the user, the cost, the limit and why`, () => {
    refused(
      { basic_auth_users: { prometheus: HASH, "ops user": HASH.replace("$10$", `$${cost}$`) } },
      `--web.config.file ${PATH}: basic_auth_users.ops user has bcrypt cost ${Number(cost)}, above the limit of 12: ` +
        "each step of cost doubles the time every password check takes, and a scrape must not wait for checks " +
        "longer than its timeout; make a hash with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`",
    );
  });
}

/** A temporary directory holding `files`; removed by the returned function. */
async function tempFiles(files: Record<string, string>): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "web-config-test-" });
  for (const [name, text] of Object.entries(files)) await Deno.writeTextFile(`${dir}/${name}`, text);
  return { dir, remove: () => Deno.remove(dir, { recursive: true }) };
}

/** PEM blocks of the right kinds that hold no real certificate or key, for what is refused before parsing. */
const CERT_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const KEY_PEM = "-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----\n";

/**
 * tests/testdata/tls: a self-signed P-256 certificate for 127.0.0.1 (server.pem) and its key (server.key), made with
 * `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 36500 -subj /CN=127.0.0.1`;
 * another P-256 key (other.key); server.key encrypted with the passphrase "test" as PKCS #8 (encrypted.key,
 * `openssl pkey -aes256`) and in the older SEC 1 form (encrypted-legacy.key, `openssl ec -aes128`); an Ed448 key
 * (ed448.key), which Deno's TLS server cannot use.
 */
const TLS = Object.fromEntries(
  ["server.pem", "server.key", "other.key", "encrypted.key", "encrypted-legacy.key", "ed448.key"].map((name) => [
    name,
    Deno.readTextFileSync(new URL(`../../testdata/tls/${name}`, import.meta.url)),
  ]),
);

async function loadRefused(path: string, message: string | RegExp): Promise<void> {
  await assert.rejects(loadWebConfig(path), (error: unknown) => {
    assert.ok(error instanceof ConfigError, `not a ConfigError: ${error}`);
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

Deno.test("loadWebConfig() reads the certificate and key named relative to the file", async () => {
  const { dir, remove } = await tempFiles({
    "web.yml": `tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\nbasic_auth_users:\n  p: ${HASH}\n`,
    "server.pem": TLS["server.pem"],
    "server.key": TLS["server.key"],
  });
  try {
    const loaded = await loadWebConfig(`${dir}/web.yml`);
    assert.deepEqual(loaded, {
      config: {
        tls: { certFile: `${dir}/server.pem`, keyFile: `${dir}/server.key` },
        basicAuthUsers: new Map([["p", HASH]]),
      },
      cert: TLS["server.pem"],
      key: TLS["server.key"],
    });
  } finally {
    await remove();
  }
});

Deno.test("loadWebConfig() accepts one file holding the certificate and the key, in either order", async () => {
  const { dir, remove } = await tempFiles({
    "web.yml": "tls_server_config:\n  cert_file: both.pem\n  key_file: both.pem\n",
    "web2.yml": "tls_server_config:\n  cert_file: both2.pem\n  key_file: both2.pem\n",
    "both.pem": TLS["server.pem"] + TLS["server.key"],
    "both2.pem": TLS["server.key"] + TLS["server.pem"],
  });
  try {
    assert.equal((await loadWebConfig(`${dir}/web.yml`)).key, TLS["server.pem"] + TLS["server.key"]);
    assert.equal((await loadWebConfig(`${dir}/web2.yml`)).cert, TLS["server.key"] + TLS["server.pem"]);
  } finally {
    await remove();
  }
});

/** Loads a TLS config of `certPem` and `keyPem`; expects the refusal `message(dir)`, dir holding cert.pem, key.pem. */
async function tlsRefused(certPem: string, keyPem: string, message: (dir: string) => string | RegExp): Promise<void> {
  const { dir, remove } = await tempFiles({
    "web.yml": "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n",
    "cert.pem": certPem,
    "key.pem": keyPem,
  });
  try {
    await loadRefused(`${dir}/web.yml`, message(dir));
  } finally {
    await remove();
  }
}

Deno.test("loadWebConfig() refuses an encrypted key, naming the file and how to decrypt it", async () => {
  for (const name of ["encrypted.key", "encrypted-legacy.key"]) {
    await tlsRefused(
      TLS["server.pem"],
      TLS[name],
      (dir) =>
        `tls_server_config.key_file ${dir}/key.pem holds an encrypted private key, and the exporter takes no ` +
        `passphrase; decrypt it, e.g. with \`openssl pkey -in ${dir}/key.pem -out server.key\``,
    );
  }
});

Deno.test("loadWebConfig() refuses a key that cannot be read, naming the file", async () => {
  await tlsRefused(
    TLS["server.pem"],
    KEY_PEM,
    // After the colon come the crypto library's own words, which change between versions.
    (dir) => new RegExp(`^tls_server_config.key_file ${dir}/key.pem holds a private key that cannot be read: \\S`),
  );
});

Deno.test("loadWebConfig() refuses a key of a type Deno's TLS server cannot use, naming the file", async () => {
  await tlsRefused(
    TLS["server.pem"],
    TLS["ed448.key"],
    (dir) =>
      `tls_server_config.key_file ${dir}/key.pem holds a key of type ed448, which Deno's TLS server cannot use; ` +
      "use an RSA, ECDSA (P-256, P-384 or P-521) or Ed25519 key",
  );
});

Deno.test("loadWebConfig() refuses a certificate that cannot be read, naming the file", async () => {
  await tlsRefused(
    CERT_PEM,
    TLS["server.key"],
    (dir) => new RegExp(`^tls_server_config.cert_file ${dir}/cert.pem holds a certificate that cannot be read: \\S`),
  );
});

Deno.test("loadWebConfig() refuses a key that does not match the certificate, naming both files", async () => {
  await tlsRefused(
    TLS["server.pem"],
    TLS["other.key"],
    (dir) =>
      `tls_server_config.key_file ${dir}/key.pem does not match the certificate in ` +
      `tls_server_config.cert_file ${dir}/cert.pem`,
  );
});

Deno.test("loadWebConfig() refuses a missing file, bad YAML, duplicate users and a YAML alias bomb", async () => {
  const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
  for (let i = 1; i < 9; i++) {
    const previous = String.fromCharCode(96 + i);
    bomb.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${previous}`)}]`);
  }
  const { dir, remove } = await tempFiles({
    "bad.yml": "tls_server_config: [unclosed\n",
    "dup.yml": `basic_auth_users:\n  p: ${HASH}\n  p: ${HASH}\n`,
    "bomb.yml": bomb.join("\n") + "\n",
  });
  try {
    await loadRefused(
      `${dir}/missing.yml`,
      new RegExp(`^cannot read --web.config.file ${dir}/missing.yml: No such file`),
    );
    await loadRefused(`${dir}/bad.yml`, new RegExp(`^--web.config.file ${dir}/bad.yml is not valid YAML: `));
    await loadRefused(`${dir}/dup.yml`, new RegExp(`^--web.config.file ${dir}/dup.yml is not valid YAML: .*unique`));
    await loadRefused(
      `${dir}/bomb.yml`,
      `--web.config.file ${dir}/bomb.yml is not valid YAML: Excessive alias count indicates a resource exhaustion attack`,
    );
  } finally {
    await remove();
  }
});

Deno.test("loadWebConfig() refuses a certificate or key file that holds no PEM of its kind, naming it", async () => {
  const { dir, remove } = await tempFiles({
    "web.yml": "tls_server_config:\n  cert_file: cert.txt\n  key_file: key.pem\n",
    "web2.yml": "tls_server_config:\n  cert_file: cert.pem\n  key_file: cert.pem\n",
    "web3.yml": "tls_server_config:\n  cert_file: cert.pem\n  key_file: nothere.key\n",
    "cert.txt": "not a certificate\n",
    "cert.pem": CERT_PEM,
    "key.pem": KEY_PEM,
  });
  try {
    await loadRefused(`${dir}/web.yml`, `tls_server_config.cert_file ${dir}/cert.txt holds no PEM certificate`);
    await loadRefused(`${dir}/web2.yml`, `tls_server_config.key_file ${dir}/cert.pem holds no PEM private key`);
    await loadRefused(
      `${dir}/web3.yml`,
      new RegExp(`^cannot read tls_server_config.key_file ${dir}/nothere.key: No such file`),
    );
  } finally {
    await remove();
  }
});

Deno.test("loadWebConfig() refuses a config, certificate or key that is not a regular file, naming it", async () => {
  const { dir, remove } = await tempFiles({
    "cert-dir.yml": "tls_server_config:\n  cert_file: tls\n  key_file: key.pem\n",
    "null-key.yml": "tls_server_config:\n  cert_file: cert.pem\n  key_file: /dev/null\n",
    "cert.pem": CERT_PEM,
    "key.pem": KEY_PEM,
  });
  try {
    await Deno.mkdir(`${dir}/tls`);
    await loadRefused(dir, `cannot read --web.config.file ${dir}: a directory, not a regular file`);
    // Read, /dev/null would be an empty file: a config without TLS or users, which is not what was meant.
    await loadRefused("/dev/null", "cannot read --web.config.file /dev/null: a character device, not a regular file");
    await loadRefused(
      `${dir}/cert-dir.yml`,
      `cannot read tls_server_config.cert_file ${dir}/tls: a directory, not a regular file`,
    );
    await loadRefused(
      `${dir}/null-key.yml`,
      "cannot read tls_server_config.key_file /dev/null: a character device, not a regular file",
    );
  } finally {
    await remove();
  }
});

Deno.test("loadWebConfig() without env access for the YAML parser names the permission, not the file", async () => {
  const module = new URL("../../../lib/config/web_config.ts", import.meta.url).href;
  const { dir, remove } = await tempFiles({ "web.yml": `basic_auth_users:\n  p: ${HASH}\n` });
  try {
    await Deno.writeTextFile(
      `${dir}/load.ts`,
      `import { loadWebConfig } from "${module}";\n` +
        `try { await loadWebConfig("${dir}/web.yml"); console.log("loaded"); }\n` +
        "catch (error) { console.log((error as Error).message); }\n",
    );
    // The start task's env list without the parser's two switches.
    const { stdout } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        "--config",
        fileURLToPath(new URL("../../../deno.json", import.meta.url)),
        "--allow-read",
        "--allow-env=DOCKER_HOST,EXPORTER_*",
        `${dir}/load.ts`,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    const message = new TextDecoder().decode(stdout).trim();
    assert.match(message, new RegExp(`^cannot parse --web.config.file ${dir}/web.yml: Requires env access to "LOG_`));
    assert.match(message, /grant --allow-env=DOCKER_HOST,EXPORTER_\*,LOG_TOKENS,LOG_STREAM,XDG_RUNTIME_DIR\)$/);
    assert.doesNotMatch(message, /not valid YAML/);
  } finally {
    await remove();
  }
});
