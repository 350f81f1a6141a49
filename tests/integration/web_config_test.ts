/**
 * `--web.config.file` end to end: the exporter runs as a subprocess with the start task's permissions plus
 * read access to the config directory, serving TLS with a certificate signed by a CA that openssl makes at
 * test time, and basic auth with a bcrypt hash made at test time. A real Prometheus then scrapes it with
 * `scheme: https`, `tls_config.ca_file` and `basic_auth`. Bad configs must fail fast, naming the field.
 *
 * The Docker engine is the scripted fake engine: what is tested here is the listener, not Docker.
 */
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import bcrypt from "bcryptjs";
import { waitFor } from "../support/docker.ts";
import { PrometheusServer } from "../support/prometheus_server.ts";
import {
  type CommandResult,
  Exporter,
  freePort,
  parseSamples,
  REPO_ROOT,
  sampleValue,
  startTaskFlagsFor,
} from "../support/exporter.ts";
import { fakeContainer, FakeEngine } from "../support/fake_engine.ts";

const MAIN = fileURLToPath(new URL("main.ts", REPO_ROOT));
const A = "a".repeat(64);
const PASSWORD = `pw-${crypto.randomUUID()}`;
const decoder = new TextDecoder();

async function have(command: string, versionArg: string): Promise<boolean> {
  try {
    return (await new Deno.Command(command, { args: [versionArg], stdout: "null", stderr: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

const haveOpenssl = await have("openssl", "version");
const havePrometheus = await have("prometheus", "--version");
if (!haveOpenssl) {
  console.warn("web_config_test.ts: ignoring its TLS tests, which need openssl (apt-get install openssl)");
}
if (!havePrometheus) console.warn("web_config_test.ts: ignoring its Prometheus test, which needs prometheus");

async function run(command: string, args: string[], cwd: string): Promise<void> {
  const output = await new Deno.Command(command, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  if (!output.success) throw new Error(`${command} ${args.join(" ")} failed: ${decoder.decode(output.stderr)}`);
}

/**
 * A directory with a CA (ca.pem), a server certificate it signed for 127.0.0.1 and localhost (server.pem,
 * server.key), and a certificate signed by nobody (other.pem). Removed by `remove()`.
 */
async function makeCertificates(): Promise<{ dir: string; ca: string; remove: () => Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "docker-exporter-tls-" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run("openssl", [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=docker-exporter test CA",
  ], dir);
  await run("openssl", ["req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"], dir);
  await Deno.writeTextFile(
    `${dir}/server.ext`,
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n" +
      "extendedKeyUsage=serverAuth\n",
  );
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "2",
    "-extfile",
    "server.ext",
  ], dir);
  await Deno.remove(`${dir}/ca.key`);
  return { dir, ca: await Deno.readTextFile(`${dir}/ca.pem`), remove: () => Deno.remove(dir, { recursive: true }) };
}

/** The start task's flags for `socket`, with read access to `dir` added to its `--allow-read`. */
async function flagsWithRead(socket: string, dir: string): Promise<string[]> {
  const flags = await startTaskFlagsFor(socket);
  const read = flags.findIndex((flag) => flag.startsWith("--allow-read="));
  assert.ok(read >= 0, "the start task has no --allow-read=");
  flags[read] += `,${dir}`;
  return flags;
}

/** Our environment without EXPORTER_* or DOCKER_* settings, plus `extra`. */
function env(extra: Record<string, string>): Record<string, string> {
  const out = Deno.env.toObject();
  for (const name of Object.keys(out)) if (/^(EXPORTER_|DOCKER_)/.test(name)) delete out[name];
  return { ...out, NO_COLOR: "1", ...extra };
}

function exporterCommand(
  flags: string[],
  vars: Record<string, string>,
  args: string[] = [],
  signal?: AbortSignal,
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    signal,
    args: ["run", ...flags, MAIN, ...args],
    cwd: fileURLToPath(REPO_ROOT),
    clearEnv: true,
    env: env(vars),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

async function runToEnd(flags: string[], vars: Record<string, string>, args: string[] = []): Promise<CommandResult> {
  // A config that should fail but is accepted would leave the exporter running: kill it after 20 s.
  const output = await exporterCommand(flags, vars, args, AbortSignal.timeout(20_000)).output();
  return { code: output.code, stdout: decoder.decode(output.stdout), stderr: decoder.decode(output.stderr) };
}

interface TlsSetup {
  engine: FakeEngine;
  certs: { dir: string; ca: string };
  exporter: Exporter;
  client: Deno.HttpClient;
  url: string;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A fake engine with one container, and the exporter serving `webConfig` (YAML) from the certificates' dir. */
async function startTlsExporter(webConfig: (dir: string) => string): Promise<TlsSetup> {
  const engine = await FakeEngine.start();
  engine.add(fakeContainer(A, "aaaa"));
  const certs = await makeCertificates();
  await Deno.writeTextFile(`${certs.dir}/web.yml`, webConfig(certs.dir));
  const flags = await flagsWithRead(engine.path, certs.dir);
  const port = freePort();
  const child = exporterCommand(flags, {
    DOCKER_HOST: engine.url,
    EXPORTER_HOST: "127.0.0.1",
    EXPORTER_PORT: String(port),
    EXPORTER_WEB_CONFIG_FILE: `${certs.dir}/web.yml`,
  }).spawn();
  const exporter = new Exporter(child, port);
  const client = Deno.createHttpClient({ caCerts: [certs.ca] });
  const url = `https://127.0.0.1:${port}`;
  const dispose = async () => {
    client.close();
    await exporter.kill();
    engine.stop();
    await certs.remove();
  };
  try {
    // /healthz needs no credentials; wait for the listener, then for the first sync with the engine.
    await waitFor(
      async () => {
        if (exporter.status) throw new Error(`the exporter exited: ${exporter.stderr}`);
        const response = await fetch(`${url}/healthz`, { client });
        await response.body?.cancel();
        return response.ok;
      },
      15_000,
      `the exporter to answer on ${url}`,
    );
  } catch (error) {
    await dispose();
    throw error;
  }
  return { engine, certs, exporter, client, url, [Symbol.asyncDispose]: dispose };
}

const basic = (user: string, password: string) => `Basic ${btoa(`${user}:${password}`)}`;

async function hashOf(password: string): Promise<string> {
  return await bcrypt.hash(password, 4);
}

Deno.test({
  name: "over TLS, the right credentials get the metrics, wrong or missing ones get 401 and are counted",
  ignore: !haveOpenssl,
  fn: async () => {
    const hash = await hashOf(PASSWORD);
    await using setup = await startTlsExporter((dir) =>
      [
        "tls_server_config:",
        "  cert_file: server.pem",
        `  key_file: ${dir}/server.key`,
        "  client_auth_type: NoClientCert",
        "  min_version: TLS12",
        "basic_auth_users:",
        `  prometheus: ${hash}`,
        "",
      ].join("\n")
    );
    const { client, url } = setup;
    const get = async (path: string, authorization?: string) => {
      const response = await fetch(url + path, {
        client,
        headers: authorization ? { Authorization: authorization } : {},
      });
      return { status: response.status, headers: response.headers, text: await response.text() };
    };
    const good = basic("prometheus", PASSWORD);
    await waitFor(async () => (await get("/readyz", good)).status === 200, 10_000, "/readyz with credentials");

    const refused = [
      await get("/metrics"),
      await get("/metrics", basic("prometheus", "wrong")),
      await get("/metrics", basic("mallory", PASSWORD)),
      await get("/readyz"),
      await get("/", "Bearer token"),
    ];
    for (const response of refused) {
      assert.equal(response.status, 401);
      assert.equal(response.headers.get("www-authenticate"), 'Basic realm="docker-exporter", charset="UTF-8"');
      assert.equal(response.text, "Unauthorized\n");
    }

    const metrics = await get("/metrics", good);
    assert.equal(metrics.status, 200);
    assert.equal(metrics.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    const samples = parseSamples(metrics.text);
    assert.equal(sampleValue(samples, "docker_up"), 1);
    assert.equal(sampleValue(samples, "docker_container_state", { id: A, state: "running" }), 1);
    assert.equal(sampleValue(samples, "docker_exporter_http_auth_failures_total"), refused.length);

    // The certificate is checked by clients: without the CA, fetch refuses it.
    await assert.rejects(fetch(`${url}/healthz`), (error: Error) => {
      assert.match(String(error.cause), /invalid peer certificate: UnknownIssuer/);
      return true;
    });
    // Nothing is served in clear text on the TLS port.
    await assert.rejects(async () => {
      const response = await fetch(`http://127.0.0.1:${setup.exporter.port}/healthz`);
      await response.body?.cancel();
    });
    await setup.exporter.stop();
  },
});

Deno.test({
  name: "the TLS listener speaks TLS 1.2 and 1.3 and refuses TLS 1.1, so min_version TLS12 holds",
  ignore: !haveOpenssl,
  fn: async () => {
    await using setup = await startTlsExporter(() =>
      "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"
    );
    const handshake = async (version: string) => {
      const output = await new Deno.Command("openssl", {
        args: [
          "s_client",
          "-connect",
          `127.0.0.1:${setup.exporter.port}`,
          `-${version}`,
          "-CAfile",
          `${setup.certs.dir}/ca.pem`,
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      // `New, TLSv1.2, Cipher is ...` after a handshake; `New, (NONE), Cipher is (NONE)` when it failed.
      const text = decoder.decode(output.stdout);
      return /^New, (TLSv1\.[0-3]|\(NONE\)), /m.exec(text)?.[1] === `TLSv1.${version.at(-1)}` &&
        /Verify return code: 0 \(ok\)/.test(text);
    };
    assert.equal(await handshake("tls1_2"), true);
    assert.equal(await handshake("tls1_3"), true);
    assert.equal(await handshake("tls1_1"), false);
  },
});

Deno.test({
  name: "--healthcheck succeeds against a TLS listener whose config it reads",
  ignore: !haveOpenssl,
  fn: async () => {
    await using setup = await startTlsExporter(() =>
      "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"
    );
    const result = await runToEnd(await flagsWithRead(setup.engine.path, setup.certs.dir), {
      EXPORTER_PORT: String(setup.exporter.port),
      EXPORTER_WEB_CONFIG_FILE: `${setup.certs.dir}/web.yml`,
    }, ["--healthcheck"]);
    assert.deepEqual(result, { code: 0, stdout: "", stderr: "" });
  },
});

Deno.test("basic auth without TLS guards /metrics over plain HTTP", async () => {
  const engine = await FakeEngine.start();
  engine.add(fakeContainer(A, "aaaa"));
  const dir = await Deno.makeTempDir({ prefix: "docker-exporter-auth-" });
  try {
    await Deno.writeTextFile(`${dir}/web.yml`, `basic_auth_users:\n  scraper: ${await hashOf(PASSWORD)}\n`);
    const port = freePort();
    const child = exporterCommand(await flagsWithRead(engine.path, dir), {
      DOCKER_HOST: engine.url,
      EXPORTER_HOST: "127.0.0.1",
      EXPORTER_PORT: String(port),
      EXPORTER_WEB_CONFIG_FILE: `${dir}/web.yml`,
    }).spawn();
    await using exporter = new Exporter(child, port);
    await waitFor(async () => (await exporter.get("/healthz")).status === 200, 15_000, "the exporter");
    assert.equal((await exporter.get("/metrics")).status, 401);
    assert.equal((await exporter.get("/metrics", { Authorization: basic("scraper", "nope") })).status, 401);
    const ok = await exporter.get("/metrics", { Authorization: basic("scraper", PASSWORD) });
    assert.equal(ok.status, 200);
    assert.equal(sampleValue(parseSamples(ok.text), "docker_exporter_http_auth_failures_total"), 2);
    await exporter.stop();
  } finally {
    engine.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

/** A well-formed hash of cost 31: the shape is all the exporter sees before it refuses or hashes a decoy. */
const COST_31_HASH = "$2b$31$HRnLZskRYnwnOJNie3fGCuaVDKXhS2XQeYuZjG31Lcfx/qCw1F67y";

/** Bad configs, and the start of the one line the exporter must print before it exits with status 2. */
const badConfigs: {
  name: string;
  yaml: (dir: string) => string;
  /** Runs after web.yml is written, in the certificates' folder. */
  prepare?: (dir: string) => Promise<void>;
  line: (dir: string) => string;
}[] = [
  {
    name: "client_auth_type RequireAndVerifyClientCert",
    yaml: () =>
      "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n",
    line: (dir) =>
      `docker-exporter: --web.config.file ${dir}/web.yml: tls_server_config.client_auth_type "RequireAndVerifyClientCert" ` +
      "is not supported: Deno's TLS server cannot verify client certificates; use NoClientCert with basic_auth_users",
  },
  {
    name: "a missing key_file",
    yaml: () => "tls_server_config:\n  cert_file: server.pem\n",
    line: (dir) =>
      `docker-exporter: --web.config.file ${dir}/web.yml: tls_server_config.key_file is required: the path of a PEM file`,
  },
  {
    name: "min_version TLS13",
    yaml: () => "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  min_version: TLS13\n",
    line: (dir) =>
      `docker-exporter: --web.config.file ${dir}/web.yml: tls_server_config.min_version "TLS13" is not supported: ` +
      "Deno's TLS server cannot refuse TLS 1.2 clients; use TLS12",
  },
  {
    name: "a password instead of a bcrypt hash",
    yaml: () => "basic_auth_users:\n  prometheus: hunter2\n",
    line: (dir) =>
      `docker-exporter: --web.config.file ${dir}/web.yml: basic_auth_users.prometheus is not a bcrypt hash`,
  },
  {
    name: "a bcrypt cost of 31, whose decoy hash would keep a core busy for hours before listening",
    yaml: () => `basic_auth_users:\n  prometheus: ${COST_31_HASH}\n`,
    line: (dir) =>
      `docker-exporter: --web.config.file ${dir}/web.yml: basic_auth_users.prometheus has bcrypt cost 31, ` +
      "above the limit of 12: ",
  },
  {
    name: "a certificate file that does not exist",
    yaml: () => "tls_server_config:\n  cert_file: nothere.pem\n  key_file: server.key\n",
    line: (dir) => `docker-exporter: cannot read tls_server_config.cert_file ${dir}/nothere.pem: `,
  },
  {
    name: "a config file that is a FIFO, which start-up would wait on for a writer",
    yaml: () => "",
    prepare: async (dir) => {
      await Deno.remove(`${dir}/web.yml`);
      await run("mkfifo", ["web.yml"], dir);
    },
    line: (dir) => `docker-exporter: cannot read --web.config.file ${dir}/web.yml: a FIFO, not a regular file`,
  },
  {
    name: "a key file that is a FIFO",
    yaml: () => "tls_server_config:\n  cert_file: server.pem\n  key_file: key.fifo\n",
    prepare: (dir) => run("mkfifo", ["key.fifo"], dir),
    line: (dir) =>
      `docker-exporter: cannot read tls_server_config.key_file ${dir}/key.fifo: a FIFO, not a regular file`,
  },
  {
    name: "an encrypted key",
    yaml: () => "tls_server_config:\n  cert_file: server.pem\n  key_file: encrypted.key\n",
    prepare: (dir) =>
      run("openssl", ["pkey", "-in", "server.key", "-aes256", "-passout", "pass:x", "-out", "encrypted.key"], dir),
    line: (dir) =>
      `docker-exporter: tls_server_config.key_file ${dir}/encrypted.key holds an encrypted private key, and the ` +
      `exporter takes no passphrase; decrypt it, e.g. with \`openssl pkey -in ${dir}/encrypted.key -out server.key\``,
  },
  {
    name: "a key that cannot be read",
    yaml: () => "tls_server_config:\n  cert_file: server.pem\n  key_file: bad.key\n",
    prepare: (dir) =>
      Deno.writeTextFile(`${dir}/bad.key`, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
    line: (dir) =>
      `docker-exporter: tls_server_config.key_file ${dir}/bad.key holds a private key that cannot be read: `,
  },
  {
    name: "a key that is not the certificate's",
    yaml: () => "tls_server_config:\n  cert_file: ca.pem\n  key_file: server.key\n",
    line: (dir) =>
      `docker-exporter: tls_server_config.key_file ${dir}/server.key does not match the certificate in ` +
      `tls_server_config.cert_file ${dir}/ca.pem`,
  },
  {
    name: "a key file holding a certificate",
    yaml: () => "tls_server_config:\n  cert_file: server.pem\n  key_file: server.pem\n",
    line: (dir) => `docker-exporter: tls_server_config.key_file ${dir}/server.pem holds no PEM private key`,
  },
];

for (const bad of badConfigs) {
  Deno.test({
    name: `a web config with ${bad.name} fails at start with status 2 and one line naming the field`,
    ignore: !haveOpenssl,
    fn: async () => {
      const certs = await makeCertificates();
      try {
        await Deno.writeTextFile(`${certs.dir}/web.yml`, bad.yaml(certs.dir));
        await bad.prepare?.(certs.dir);
        const result = await runToEnd(await flagsWithRead("/nonexistent.sock", certs.dir), {
          DOCKER_HOST: "unix:///nonexistent.sock",
          EXPORTER_HOST: "127.0.0.1",
          EXPORTER_PORT: String(freePort()),
          EXPORTER_WEB_CONFIG_FILE: `${certs.dir}/web.yml`,
        });
        assert.equal(result.code, 2, `exit ${result.code}; stderr:\n${result.stderr}`);
        assert.equal(result.stdout, "");
        const lines = result.stderr.split("\n");
        assert.equal(lines.pop(), "");
        assert.equal(lines.length, 1, result.stderr);
        assert.ok(lines[0].startsWith(bad.line(certs.dir)), `${lines[0]}\ndoes not start with\n${bad.line(certs.dir)}`);
      } finally {
        await certs.remove();
      }
    },
  });
}

Deno.test("a web config the start task may not read fails at start, naming the setting and the command that grants it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "docker-exporter-auth-" });
  try {
    await Deno.writeTextFile(`${dir}/web.yml`, "basic_auth_users: {}\n");
    const result = await runToEnd(await startTaskFlagsFor("/nonexistent.sock"), {
      DOCKER_HOST: "unix:///nonexistent.sock",
      EXPORTER_WEB_CONFIG_FILE: `${dir}/web.yml`,
    });
    assert.equal(result.code, 2, result.stderr);
    const [line, command, end] = result.stderr.split("\n");
    assert.equal(
      line,
      `docker-exporter: EXPORTER_WEB_CONFIG_FILE=${dir}/web.yml: Deno has not granted the exporter read access to ` +
        `${dir}/web.yml; run it with the permissions this configuration needs:`,
    );
    // The file's directory, where its certificate and key would be too.
    assert.match(command, new RegExp(`^MALLOC_ARENA_MAX=2 deno run .*--allow-read=\\S*,${dir} `));
    assert.equal(end, "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "Prometheus scrapes over TLS with basic auth; a job with a wrong password sees 401",
  ignore: !haveOpenssl || !havePrometheus,
  fn: async () => {
    const hash = await hashOf(PASSWORD);
    await using setup = await startTlsExporter(() =>
      `tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\nbasic_auth_users:\n  prometheus: ${hash}\n`
    );
    const target = `127.0.0.1:${setup.exporter.port}`;
    const job = (name: string, password: string) => [
      `  - job_name: ${name}`,
      "    scheme: https",
      "    tls_config:",
      `      ca_file: ${setup.certs.dir}/ca.pem`,
      "    basic_auth:",
      "      username: prometheus",
      `      password: ${password}`,
      "    static_configs:",
      `      - targets: ["${target}"]`,
    ];
    await using prometheus = await PrometheusServer.start(
      [
        "global:",
        "  scrape_interval: 1s",
        "  scrape_timeout: 1s",
        "scrape_configs:",
        ...job("tls-auth", PASSWORD),
        ...job("wrong-password", "not-the-password"),
        "",
      ].join("\n"),
    );
    const [state] = await waitFor(
      async () => {
        const result = await prometheus.query(`docker_container_state{job="tls-auth",name="aaaa",state="running"}`);
        return result.length > 0 && result;
      },
      30_000,
      "the container's series in Prometheus, scraped over TLS with basic auth",
    );
    assert.deepEqual(state.metric, {
      __name__: "docker_container_state",
      instance: target,
      job: "tls-auth",
      id: A,
      name: "aaaa",
      state: "running",
    });
    assert.equal(state.value[1], "1");
    type Target = { labels: { job: string }; health: string; lastError: string; scrapeUrl: string };
    const targets = await waitFor(
      async () => {
        const { activeTargets } = await prometheus.api("targets?state=active") as { activeTargets: Target[] };
        return activeTargets.length === 2 && activeTargets.every((t) => t.health !== "unknown") && activeTargets;
      },
      15_000,
      "both targets scraped",
    );
    const byJob = Object.fromEntries(targets.map((t) => [t.labels.job, t]));
    assert.deepEqual(
      [byJob["tls-auth"].scrapeUrl, byJob["tls-auth"].health, byJob["tls-auth"].lastError],
      [`https://${target}/metrics`, "up", ""],
    );
    assert.equal(byJob["wrong-password"].health, "down");
    assert.match(byJob["wrong-password"].lastError, /401 Unauthorized/);
    // The refused scrapes are counted, and the next good scrape reports them.
    await waitFor(
      async () => {
        const [failures] = await prometheus.query(`docker_exporter_http_auth_failures_total{job="tls-auth"}`);
        return Number(failures?.value[1]) >= 1;
      },
      10_000,
      "the wrong-password scrapes counted in docker_exporter_http_auth_failures_total",
    );
  },
});
