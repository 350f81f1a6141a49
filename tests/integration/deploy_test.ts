/**
 * The deployment files. Every compose file passes `docker-compose config` (and the Swarm one `docker stack config`)
 * and says what docs/running.md promises; the Prometheus configs pass `promtool check config`; the alert rules pass
 * their unit tests, which cover every alert; the dashboard is well-formed and provisioned where compose mounts it.
 *
 * End to end: a real Prometheus with the shipped rules scrapes real exporters while real containers restart, fail
 * their health checks, are OOM-killed, exit non-zero and go missing, and every expression of the rules and the
 * dashboard returns data through Prometheus's HTTP API.
 */
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { SETTINGS } from "../../lib/config/settings.ts";
import { ContainerScope, docker, dockerTestsIgnored } from "../support/docker.ts";
import { type Exporter, freePort, REPO_ROOT, startExporter } from "../support/exporter.ts";
import { PrometheusServer, type VectorSample } from "../support/prometheus_server.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const repoPath = (path: string) => fileURLToPath(new URL(path, REPO_ROOT)).replace(/\/$/, "");

/** The tools these tests run, and the Debian package of each. */
const TOOLS: Record<string, { args: string[]; apt: string }> = {
  "docker-compose": { args: ["version"], apt: "docker-compose" },
  promtool: { args: ["--version"], apt: "prometheus" },
  prometheus: { args: ["--version"], apt: "prometheus" },
  python3: { args: ["-c", "import yaml"], apt: "python3-yaml" },
};

/**
 * For `Deno.test({ ignore })`: true when a tool is missing, after one console line naming it and its package.
 * Under CI nothing is ignored, so a missing tool fails the run instead of hiding the tests.
 */
async function toolsMissing(test: string, tools: readonly string[]): Promise<boolean> {
  const missing: string[] = [];
  for (const tool of tools) {
    const works = await new Deno.Command(tool, { args: TOOLS[tool].args, stdout: "null", stderr: "null" }).output()
      .then((output) => output.success, () => false);
    if (!works) missing.push(`${tool} (apt-get install ${TOOLS[tool].apt})`);
  }
  if (missing.length === 0 || Deno.env.get("CI")) return false;
  console.warn(`deploy_test.ts: ignoring "${test}", which needs ${missing.join(", ")}`);
  return true;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `command` in the repository root with this process's environment minus the variables the compose files
 * read (EXPORTER_*, DOCKER_*, ...), so that they show their own defaults, plus `env`; `input` goes to stdin.
 */
async function run(
  command: string,
  args: readonly string[],
  env: Record<string, string> = {},
  input?: string,
): Promise<Run> {
  const base = Deno.env.toObject();
  for (const name of Object.keys(base)) {
    if (/^(EXPORTER_|DOCKER_|PROMETHEUS_|GRAFANA_|SOCKET_PROXY_)/.test(name)) delete base[name];
  }
  const child = new Deno.Command(command, {
    args: [...args],
    cwd: repoPath(""),
    clearEnv: true,
    env: { ...base, ...env },
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(encoder.encode(input));
    await writer.close();
  }
  const output = await child.output();
  return { code: output.code, stdout: decoder.decode(output.stdout), stderr: decoder.decode(output.stderr) };
}

/** Runs a command that must succeed and returns its stdout. */
async function succeed(command: string, args: readonly string[], env: Record<string, string> = {}): Promise<string> {
  const result = await run(command, args, env);
  assert.equal(result.code, 0, `${command} ${args.join(" ")} failed:\n${result.stderr}${result.stdout}`);
  return result.stdout;
}

// deno-lint-ignore no-explicit-any
type Yaml = any;

/** Parses YAML with PyYAML (a dependency of Debian's docker-compose), as JSON. */
async function parseYaml(text: string): Promise<Yaml> {
  const result = await run(
    "python3",
    ["-c", "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"],
    {},
    text,
  );
  assert.equal(result.code, 0, `PyYAML could not parse it: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

const readYaml = async (path: string): Promise<Yaml> => parseYaml(await Deno.readTextFile(repoPath(path)));

/** `docker-compose -f <file> config`, parsed. */
async function composeConfig(file: string, env: Record<string, string> = {}): Promise<Yaml> {
  return parseYaml(await succeed("docker-compose", ["--file", file, "config"], env));
}

/** The JSON array of a Dockerfile instruction in exec form, e.g. `ENTRYPOINT`. */
async function dockerfileExecForm(instruction: string): Promise<string[]> {
  const dockerfile = (await Deno.readTextFile(repoPath("Dockerfile"))).replace(/\\\n\s*/g, " ");
  const line = new RegExp(`^${instruction}\\s+(?:--\\S+\\s+)*(?:CMD\\s+)?(\\[.*\\])\\s*$`, "m").exec(dockerfile);
  assert.ok(line, `the Dockerfile has no ${instruction} in exec form`);
  return JSON.parse(line[1]);
}

/** The `--name=value` options of the Dockerfile's HEALTHCHECK, as compose writes them (`start_period`). */
async function dockerfileHealthcheckOptions(): Promise<Record<string, string | number>> {
  const dockerfile = await Deno.readTextFile(repoPath("Dockerfile"));
  const line = /^HEALTHCHECK\s+(.*?)\s*\\?$/m.exec(dockerfile);
  assert.ok(line, "the Dockerfile has no HEALTHCHECK");
  const options: Record<string, string | number> = {};
  for (const [, name, value] of line[1].matchAll(/--([a-z-]+)=(\S+)/g)) {
    options[name.replace("-", "_")] = name === "retries" ? Number(value) : value;
  }
  return options;
}

/** Host paths that a compose service bind-mounts (short syntax `src:dst[:mode]` with an absolute source). */
function bindMounts(service: Yaml): { source: string; target: string; mode?: string }[] {
  return (service.volumes ?? []).filter((v: unknown) => typeof v === "string" && v.startsWith("/")).map(
    (v: string) => {
      const [source, target, mode] = v.split(":");
      return { source, target, mode };
    },
  );
}

/** The settings compose files leave out, and why. */
const SETTINGS_NOT_IN_COMPOSE: Record<string, string> = {
  EXPORTER_WEB_CONFIG_FILE: "needs a mounted file and --allow-read for it in the entrypoint (docs/running.md)",
  EXPORTER_CGROUP_ROOT: "the image sets it to where compose.yaml mounts the host's /sys/fs/cgroup",
  EXPORTER_PROC_ROOT: "the image sets it to where compose.yaml mounts the host's /proc",
  EXPORTER_DATA_ROOT: "the image sets it to where compose.yaml mounts the engine's data root",
};

const composeIgnored = await toolsMissing("compose files", ["docker-compose", "python3"]);

Deno.test({
  name: "compose.yaml: the exporter is built, read-only, without capabilities, with the socket read-only",
  ignore: composeIgnored,
  fn: async () => {
    const config = await composeConfig("compose.yaml", { DOCKER_GID: "4242" });
    const exporter = config.services["docker-exporter"];
    assert.deepEqual(exporter.build, { context: repoPath("") });
    assert.equal(exporter.image, "docker-exporter:latest");
    assert.equal(exporter.restart, "unless-stopped");
    assert.equal(exporter.read_only, true);
    assert.deepEqual(exporter.cap_drop, ["ALL"]);
    assert.deepEqual(exporter.security_opt, ["no-new-privileges:true"]);
    assert.deepEqual(exporter.group_add, ["4242"]);
    assert.deepEqual(exporter.volumes, [
      "/var/run/docker.sock:/var/run/docker.sock:ro",
      "/sys/fs/cgroup:/host/sys/fs/cgroup:ro",
      "/proc:/host/proc:ro",
      "/var/lib/docker:/host/data-root:ro",
    ]);
    // No host address: Docker publishes it on every IPv4 and IPv6 address, for a Prometheus on another host.
    assert.deepEqual(exporter.ports, [{ published: 8000, target: 8000 }]);
    // No `test`: the image's own HEALTHCHECK command runs, with the Dockerfile's timings.
    assert.deepEqual(exporter.healthcheck, await dockerfileHealthcheckOptions());
    assert.equal(exporter.profiles, undefined, "the exporter starts without a profile");

    const expected = Object.fromEntries(
      SETTINGS.filter((s) => !(s.env in SETTINGS_NOT_IN_COMPOSE)).map((s) => [s.env, s.default]),
    );
    // The one setting pinned rather than defaulted: the socket is mounted at this path whatever the host's is.
    expected.DOCKER_HOST = "unix:///var/run/docker.sock";
    assert.deepEqual(exporter.environment, expected, "every setting, with the exporter's own default");
  },
});

Deno.test({
  name: "compose.yaml: settings come from the environment, and DOCKER_GID is required by name",
  ignore: composeIgnored,
  fn: async () => {
    const config = await composeConfig("compose.yaml", {
      DOCKER_GID: "998",
      EXPORTER_PORT: "9417",
      EXPORTER_LOG_LEVEL: "debug",
      EXPORTER_CONTAINER_LABELS: "com.example.*",
      DOCKER_SOCKET: "/run/user/1000/docker.sock",
    });
    const exporter = config.services["docker-exporter"];
    assert.equal(exporter.environment.EXPORTER_PORT, "9417");
    assert.equal(exporter.environment.EXPORTER_LOG_LEVEL, "debug");
    assert.equal(exporter.environment.EXPORTER_CONTAINER_LABELS, "com.example.*");
    assert.deepEqual(exporter.ports, [{ published: 9417, target: 9417 }]);
    assert.deepEqual(exporter.group_add, ["998"]);
    assert.deepEqual(exporter.volumes[0], "/run/user/1000/docker.sock:/var/run/docker.sock:ro");

    const missing = await run("docker-compose", ["--file", "compose.yaml", "config"]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /DOCKER_GID must be the group id of the Docker socket/);
  },
});

Deno.test({
  name: "compose.yaml: the monitoring profile provisions Prometheus and Grafana from files in deploy/",
  ignore: composeIgnored,
  fn: async () => {
    const config = await composeConfig("compose.yaml", { DOCKER_GID: "4242" });
    const { prometheus, grafana } = config.services;
    for (const [name, service] of Object.entries({ prometheus, grafana }) as [string, Yaml][]) {
      assert.deepEqual(service.profiles, ["monitoring"], name);
      assert.match(service.image, /:v?\d+\.\d+\.\d+$/, `${name}'s image is pinned`);
      for (const mount of bindMounts(service)) {
        assert.ok(mount.source.startsWith(repoPath("deploy/")), `${name} mounts ${mount.source} from deploy/`);
        assert.ok(await Deno.stat(mount.source).then(() => true, () => false), `${mount.source} exists`);
        assert.equal(mount.mode, "ro", `${name} mounts ${mount.source} read-only`);
      }
    }
    const mountedAt = (service: Yaml, target: string) => bindMounts(service).find((m) => m.target === target)?.source;

    // Prometheus reads prometheus.yml and its rule files from the mounted deploy/prometheus.
    assert.ok(prometheus.command.includes("--config.file=/etc/prometheus/prometheus.yml"));
    const prometheusDir = mountedAt(prometheus, "/etc/prometheus");
    assert.equal(prometheusDir, repoPath("deploy/prometheus"));
    const prometheusConfig = await readYaml("deploy/prometheus/prometheus.yml");
    assert.deepEqual(prometheusConfig.rule_files, ["alerts.yml"]);
    const job = prometheusConfig.scrape_configs.find((c: Yaml) => c.job_name === "docker-exporter");
    assert.deepEqual(
      job.static_configs,
      [{ targets: ["docker-exporter:8000"] }],
      "the exporter service's name and port",
    );

    // Grafana's provisioning points at the data source service and at the mounted dashboards.
    const provisioning = mountedAt(grafana, "/etc/grafana/provisioning");
    assert.equal(provisioning, repoPath("deploy/grafana/provisioning"));
    const datasources = await readYaml("deploy/grafana/provisioning/datasources/prometheus.yml");
    assert.deepEqual(
      datasources.datasources.map((d: Yaml) => [d.type, d.url, d.isDefault]),
      [["prometheus", "http://prometheus:9090", true]],
    );
    const providers = await readYaml("deploy/grafana/provisioning/dashboards/docker-exporter.yml");
    const dashboardsDir: string = providers.providers[0].options.path;
    assert.equal(mountedAt(grafana, dashboardsDir), repoPath("deploy/grafana/dashboards"));
    const home: string = grafana.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
    assert.ok(home.startsWith(`${dashboardsDir}/`), home);
    await Deno.stat(repoPath(`deploy/grafana/dashboards/${home.slice(dashboardsDir.length + 1)}`));
  },
});

Deno.test({
  name: "compose.socket-proxy.yaml: only the proxy mounts the socket; the exporter may reach only the proxy",
  ignore: composeIgnored,
  fn: async () => {
    const config = await composeConfig("compose.socket-proxy.yaml");
    const proxy = config.services["socket-proxy"];
    const exporter = config.services["docker-exporter"];
    assert.deepEqual(proxy.volumes, ["/var/run/docker.sock:/var/run/docker.sock:ro"]);
    // The sections the exporter reads (GET /version, /info, /containers/json, /containers/{id}/json and /stats,
    // /events, /system/df), and no other.
    assert.deepEqual(
      proxy.environment,
      { CONTAINERS: "1", EVENTS: "1", INFO: "1", VERSION: "1", SYSTEM: "1", PING: "0", POST: "0" },
    );
    assert.equal(exporter.volumes, undefined, "no socket in the exporter");
    assert.equal(exporter.group_add, undefined, "no socket group in the exporter");
    assert.equal(exporter.environment.DOCKER_HOST, "tcp://socket-proxy:2375");
    assert.equal(config.networks["docker-api"].internal, true);
    assert.deepEqual(exporter.networks, { "default": null, "docker-api": null });
    assert.equal(exporter.read_only, true);
    assert.deepEqual(exporter.cap_drop, ["ALL"]);

    // The image's command, with --allow-net for the proxy instead of the socket and no file access (so no statfs
    // either: the data root of an engine behind a proxy is not read).
    const image = await dockerfileExecForm("ENTRYPOINT");
    const expected = image.flatMap((word) => {
      if (
        word.startsWith("--allow-read=/var/run/docker.sock") || word.startsWith("--allow-write=/var/run/docker.sock") ||
        word === "--allow-sys=statfs"
      ) {
        return [];
      }
      return [word.replace("--allow-net=unix:/var/run/docker.sock,", "--allow-net=socket-proxy:2375,")];
    });
    assert.ok(expected.includes("--allow-net=socket-proxy:2375,0.0.0.0,127.0.0.1"), expected.join(" "));
    assert.deepEqual(exporter.entrypoint, expected);
    assert.deepEqual(exporter.healthcheck.test, ["CMD", ...expected, "--healthcheck"]);
  },
});

/** Whether this docker CLI has `docker stack config` (added after 20.10, which Debian 12 ships). */
async function stackConfigSupported(): Promise<boolean> {
  const result = await run("docker", ["stack", "--help"]).catch(() => undefined);
  return /^\s+config\s/m.test(result?.stdout ?? "");
}

Deno.test({
  name: "compose.swarm.yaml: one exporter per node, found by Prometheus's dockerswarm_sd_configs",
  ignore: await toolsMissing("compose.swarm.yaml", ["docker-compose", "python3"]),
  fn: async () => {
    const env = { DOCKER_GID: "4242", EXPORTER_IMAGE: "registry.example.com/docker-exporter:0.1.0" };
    const file = "compose.swarm.yaml";
    const outputs: [string, Yaml][] = [["docker-compose config", await composeConfig(file, env)]];
    if (await stackConfigSupported()) {
      outputs.push([
        "docker stack config",
        await parseYaml(await succeed("docker", ["stack", "config", "--compose-file", file], env)),
      ]);
    } else {
      console.warn(
        "deploy_test.ts: this docker CLI has no `docker stack config`; compose.swarm.yaml is checked with docker-compose only",
      );
    }
    const swarmConfig = await readYaml("deploy/prometheus/prometheus.swarm.yml");
    const job = swarmConfig.scrape_configs.find((c: Yaml) => c.job_name === "docker-exporter");
    const keep = (label: string) =>
      job.relabel_configs.find((r: Yaml) => r.action === "keep" && r.source_labels[0] === label)?.regex;

    for (const [tool, stack] of outputs) {
      const exporter = stack.services["docker-exporter"];
      assert.equal(exporter.image, env.EXPORTER_IMAGE, tool);
      assert.equal(exporter.deploy.mode, "global", tool);
      // Swarm services have no group_add: the socket's group is the primary group.
      assert.equal(exporter.user, "65532:4242", tool);
      assert.equal(exporter.read_only, true, tool);
      assert.deepEqual(exporter.cap_drop, ["ALL"], tool);
      assert.deepEqual(exporter.volumes, [
        { type: "bind", source: "/var/run/docker.sock", target: "/var/run/docker.sock", read_only: true },
      ], tool);
      assert.equal(exporter.environment.DOCKER_HOST, "unix:///var/run/docker.sock", tool);
      assert.deepEqual(exporter.networks, { monitoring: null }, tool);

      // Prometheus runs on a manager and keeps the tasks of the service labelled prometheus-job=docker-exporter
      // on the shared network, at the exporter's port.
      const prometheus = stack.services.prometheus;
      assert.deepEqual(prometheus.deploy.placement.constraints, ["node.role == manager"], tool);
      const mounted = (target: string) =>
        stack.configs[prometheus.configs.find((c: Yaml) => c.target === target).source].file;
      assert.equal(mounted("/etc/prometheus/prometheus.yml"), repoPath("deploy/prometheus/prometheus.swarm.yml"), tool);
      assert.equal(mounted("/etc/prometheus/alerts.yml"), repoPath("deploy/prometheus/alerts.yml"), tool);
      assert.equal(keep("__meta_dockerswarm_service_label_prometheus_job"), exporter.deploy.labels["prometheus-job"]);
      assert.equal(keep("__meta_dockerswarm_network_name"), stack.networks.monitoring.name, tool);
      assert.equal(job.dockerswarm_sd_configs[0].port, Number(exporter.environment.EXPORTER_PORT), tool);
    }
    assert.deepEqual(swarmConfig.rule_files, ["alerts.yml"]);

    const missing = await run("docker-compose", ["--file", file, "config"]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /(EXPORTER_IMAGE|DOCKER_GID) must/);
  },
});

const promtoolIgnored = await toolsMissing("promtool", ["promtool", "python3"]);

Deno.test({
  name: "promtool accepts both Prometheus configs and the rules, and the rules pass their unit tests",
  ignore: promtoolIgnored,
  fn: async () => {
    for (const config of ["deploy/prometheus/prometheus.yml", "deploy/prometheus/prometheus.swarm.yml"]) {
      assert.match(await succeed("promtool", ["check", "config", config]), /SUCCESS: 9 rules found/);
    }
    assert.match(await succeed("promtool", ["check", "rules", "deploy/prometheus/alerts.yml"]), /SUCCESS/);
    const tests = await run("promtool", ["test", "rules", "deploy/prometheus/alerts.test.yml"]);
    assert.equal(tests.code, 0, `promtool test rules failed:\n${tests.stdout}${tests.stderr}`);
    assert.match(tests.stdout, /SUCCESS/);
  },
});

Deno.test({
  name: "alerts.test.yml has a firing and a quiet case for every alert in alerts.yml",
  ignore: promtoolIgnored,
  fn: async () => {
    const rules = await readYaml("deploy/prometheus/alerts.yml");
    const alerts: string[] = rules.groups.flatMap((g: Yaml) => g.rules).filter((r: Yaml) => r.alert).map((r: Yaml) =>
      r.alert
    );
    assert.equal(alerts.length, 8);
    const unit = await readYaml("deploy/prometheus/alerts.test.yml");
    const cases = unit.tests.flatMap((t: Yaml) => t.alert_rule_test ?? []);
    for (const alert of alerts) {
      const own = cases.filter((c: Yaml) => c.alertname === alert);
      assert.ok(own.some((c: Yaml) => c.exp_alerts.length > 0), `no test expects ${alert} to fire`);
      assert.ok(own.some((c: Yaml) => c.exp_alerts.length === 0), `no test expects ${alert} to stay quiet`);
    }
  },
});

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: { refId: string; expr: string; datasource: { type: string; uid: string } }[];
}

interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string | { query: string } }[] };
}

const readDashboard = async (): Promise<Dashboard> =>
  JSON.parse(await Deno.readTextFile(repoPath("deploy/grafana/dashboards/docker-exporter.json")));

Deno.test("the dashboard has unique panel ids, no overlapping panels, and every query on the chosen data source", async () => {
  const dashboard = await readDashboard();
  assert.equal(dashboard.uid, "docker-exporter");
  const variables = dashboard.templating.list;
  assert.deepEqual(variables.map((v) => v.name), ["datasource", "job", "instance", "project", "service"]);
  assert.deepEqual([variables[0].type, variables[0].query], ["datasource", "prometheus"]);

  const ids = dashboard.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, "panel ids are unique");
  const cells = new Map<string, string>();
  for (const panel of dashboard.panels) {
    const { x, y, w, h } = panel.gridPos;
    assert.ok(x >= 0 && w > 0 && x + w <= 24, `${panel.title} fits the 24 columns`);
    for (let row = y; row < y + h; row++) {
      for (let column = x; column < x + w; column++) {
        const other = cells.get(`${row}/${column}`);
        assert.equal(other, undefined, `${panel.title} overlaps ${other}`);
        cells.set(`${row}/${column}`, panel.title);
      }
    }
    if (panel.type === "row") continue;
    assert.deepEqual(panel.datasource, { type: "prometheus", uid: "${datasource}" }, panel.title);
    assert.ok(panel.targets && panel.targets.length > 0, `${panel.title} has queries`);
    const refIds = panel.targets.map((t) => t.refId);
    assert.equal(new Set(refIds).size, refIds.length, `${panel.title} has unique refIds`);
    for (const target of panel.targets) {
      assert.deepEqual(target.datasource, panel.datasource, `${panel.title} ${target.refId}`);
      assert.ok(target.expr.trim() !== "", `${panel.title} ${target.refId} has an expression`);
    }
  }
  const titles = dashboard.panels.map((p) => p.title);
  for (const wanted of ["Containers by state", "Restarts", "Unhealthy containers", "OOM-killed containers"]) {
    assert.ok(titles.includes(wanted), `a panel "${wanted}"`);
  }
});

/** Replaces Grafana's `$name` and `${name}` variables; every variable in `expr` must have a value. */
function substitute(expr: string, values: Readonly<Record<string, string>>): string {
  return expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    if (!(name in values)) throw new Error(`no test value for $${name} in ${expr}`);
    return values[name];
  });
}

/** One PromQL expression that must return data, and where it comes from. */
interface Check {
  where: string;
  expr: string;
  /** Extra condition on the result (default: non-empty). */
  accept?: (result: VectorSample[]) => boolean;
}

Deno.test({
  name: "every expression of the alert rules and the dashboard returns data from a real Prometheus and real containers",
  ignore: (await dockerTestsIgnored("deploy_test.ts")) ||
    (await toolsMissing("the end-to-end PromQL test", ["prometheus", "python3"])),
  fn: async () => {
    await using scope = new ContainerScope("deploy");
    const project = scope.prefix;
    const labels = (service: string) => ({
      "com.docker.compose.project": project,
      "com.docker.compose.service": service,
    });

    // The exporter under test, one that cannot reach Docker, and a target where nothing listens.
    const noDocker = await Deno.makeTempDir({ prefix: "docker-exporter-no-docker-" });
    await using _removeNoDocker = { [Symbol.asyncDispose]: () => Deno.remove(noDocker, { recursive: true }) };
    await using exporter = await startExporter();
    await using unreachable: Exporter = await startExporter({
      dockerSocket: `${noDocker}/docker.sock`,
      waitFor: "healthz",
    });
    const deadPort = freePort();
    const targets = [exporter.port, unreachable.port, deadPort].map((port) => `127.0.0.1:${port}`);

    // The shipped config with its rule files, this test's targets, and one-second intervals.
    const shipped = await readYaml("deploy/prometheus/prometheus.yml");
    const job = shipped.scrape_configs.find((c: Yaml) => c.job_name === "docker-exporter");
    const config = {
      global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
      rule_files: shipped.rule_files.map((file: string) => repoPath(`deploy/prometheus/${file}`)),
      scrape_configs: [{ ...job, static_configs: [{ targets }] }],
    };
    await using prometheus = await PrometheusServer.start(JSON.stringify(config, null, 2));
    const has = async (expr: string) => (await prometheus.query(expr)).length > 0;
    const until = async (what: string, expr: string, timeoutMs: number) => {
      const deadline = performance.now() + timeoutMs;
      while (!(await has(expr))) {
        if (performance.now() > deadline) assert.fail(`timed out waiting for ${what}: ${expr}\n${prometheus.stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    };
    await until("the first scrape", `up{instance="${targets[0]}"} == 1`, 20_000);

    // Two replicas of a service, one of which will go missing.
    await scope.run({ name: "web-1", labels: labels("web") });
    const web2 = await scope.run({ name: "web-2", labels: labels("web") });
    // Unhealthy after one failed check.
    await scope.run({
      name: "api",
      labels: labels("api"),
      flags: ["--health-cmd", "false", "--health-interval", "1s", "--health-retries", "1", "--health-timeout", "1s"],
    });
    // Exits 3 after a second, restarted by the engine up to ten times.
    await scope.run({
      name: "crash",
      labels: labels("crash"),
      flags: ["--restart", "on-failure:10"],
      command: ["sh", "-c", "sleep 1; exit 3"],
    });
    // Exits 3 at once, for good.
    await scope.run({ name: "batch", labels: labels("batch"), command: ["sh", "-c", "exit 3"] });
    // Buffers 64 MiB in an 8 MiB container: OOM-killed (and bounded should the limit not apply).
    await scope.run({
      name: "worker",
      labels: labels("worker"),
      flags: ["--memory", "8m", "--memory-swap", "8m"],
      command: ["sh", "-c", "head -c 64m /dev/zero | tail"],
    });

    const running = `compose_service:docker_container_running:sum{compose_project="${project}",compose_service="web"}`;
    await until("both web replicas in the recording rule", `${running} == 2`, 20_000);
    await docker("rm", "--force", web2.id);

    const dashboard = await readDashboard();
    const values = {
      job: job.job_name,
      instance: `(${targets.join("|")})`,
      project,
      service: "(web|api|crash|batch|worker)",
      __rate_interval: "5m",
      __range: "10m",
      __interval: "15s",
    };
    const checks: Check[] = [];
    for (const panel of dashboard.panels) {
      for (const target of panel.targets ?? []) {
        // `or vector(0)` turns "none" into 0 on stat panels; the part before it must find the containers itself.
        const expr = substitute(target.expr, values).replace(/\s*or vector\(0\)\s*$/, "");
        checks.push({ where: `dashboard panel "${panel.title}" ${target.refId}`, expr });
      }
    }
    for (const variable of dashboard.templating.list) {
      if (variable.type !== "query") continue;
      const query = typeof variable.query === "string" ? variable.query : variable.query.query;
      const match = /^label_values\((.*),\s*(\w+)\)$/s.exec(query);
      assert.ok(match, `variable ${variable.name}: ${query}`);
      const label = match[2];
      checks.push({
        where: `dashboard variable $${variable.name}`,
        expr: substitute(match[1], values),
        accept: (result) => result.some((sample) => (sample.metric[label] ?? "") !== ""),
      });
    }
    const rules = await prometheus.rules();
    const shippedRules = (await readYaml("deploy/prometheus/alerts.yml")).groups.flatMap((g: Yaml) => g.rules);
    assert.deepEqual(
      rules.map((r) => r.name).sort(),
      shippedRules.map((r: Yaml) => r.alert ?? r.record).sort(),
      "every rule of alerts.yml loaded",
    );
    for (const rule of rules) checks.push({ where: `${rule.type} rule ${rule.name}`, expr: rule.query });

    // Poll until every expression has data; a query Prometheus rejects fails at once.
    let pending = checks;
    const deadline = performance.now() + 60_000;
    while (pending.length > 0 && performance.now() < deadline) {
      const still: Check[] = [];
      for (const check of pending) {
        const result = await prometheus.query(check.expr).catch((error) => {
          throw new Error(`${check.where}: ${error.message}`);
        });
        if (!(check.accept ?? ((r: VectorSample[]) => r.length > 0))(result)) still.push(check);
      }
      pending = still;
      if (pending.length > 0) await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    if (pending.length > 0) {
      const containers = await docker(
        "ps",
        "--all",
        "--filter",
        `label=com.docker.compose.project=${project}`,
        "--format",
        "{{.Names}}: {{.Status}}",
      );
      assert.fail(
        `expressions that returned no data within 60 s:\n${
          pending.map((check) => `${check.where}: ${check.expr}`).join("\n")
        }\nthe test containers:\n${containers}\nthe exporter's log:\n${exporter.stderr.slice(-3000)}`,
      );
    }
    for (const rule of await prometheus.rules()) assert.equal(rule.health, "ok", `${rule.name}: ${rule.lastError}`);

    await prometheus.stop();
    await unreachable.stop();
    await exporter.stop();
  },
});
