import assert from "node:assert/strict";
import {
  type Command,
  type Config,
  ConfigError,
  helpText,
  parseConfig,
  SETTINGS,
} from "../../../lib/config/settings.ts";
import { formatDuration, parseDuration } from "../../../lib/config/parsers.ts";
import { MAX_SERIES_LABEL_KEYS } from "../../../lib/metrics/labels.ts";
import { hostPort } from "../../../lib/shared/address.ts";
import { parseDockerEndpoint } from "../../../lib/docker/endpoint.ts";

/** An environment lookup over a fixed table, so no test reads the real process environment. */
function envOf(vars: Record<string, string> = {}): (name: string) => string | undefined {
  return (name) => vars[name];
}

function runConfig(args: string[], vars: Record<string, string> = {}): Config {
  const command = parseConfig(args, envOf(vars));
  assert.equal(command.kind, "run");
  return (command as Extract<Command, { kind: "run" }>).config;
}

/** Asserts that parsing fails with a ConfigError whose message names `setting` and says what it accepts. */
function assertRejected(
  args: string[],
  vars: Record<string, string>,
  setting: string,
  accepts: string,
  notNamed?: string,
): void {
  assert.throws(() => parseConfig(args, envOf(vars)), (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${error}`);
    assert.equal(error.name, "ConfigError");
    assert.ok(error.message.includes(setting), `message ${JSON.stringify(error.message)} should name ${setting}`);
    assert.ok(error.message.includes(accepts), `message ${JSON.stringify(error.message)} should say ${accepts}`);
    if (notNamed !== undefined) {
      assert.ok(!error.message.includes(notNamed), `message ${JSON.stringify(error.message)} names ${notNamed}`);
    }
    return true;
  });
}

Deno.test("parseConfig() uses the documented defaults when nothing is set", () => {
  assert.deepEqual(runConfig([]), {
    port: 8000,
    host: "0.0.0.0",
    docker: { kind: "unix", path: "/var/run/docker.sock", url: "unix:///var/run/docker.sock" },
    refreshIntervalMs: 15_000,
    staleAfterMs: 30_000,
    logLevel: "info",
    containerLabels: [],
    includeContainers: [],
    excludeContainers: [],
    containerLabelsOnAllSeries: false,
    webConfigFile: "",
    resourceMetrics: "auto",
    resourceIntervalMs: undefined,
    cgroupRoot: "/sys/fs/cgroup",
    procRoot: "/proc",
    diskUsageIntervalMs: 300_000,
    dataRoot: undefined,
    maxConnections: 128,
  });
});

Deno.test("parseConfig() reads every setting from its environment variable", () => {
  const config = runConfig([], {
    EXPORTER_PORT: "9417",
    EXPORTER_HOST: "127.0.0.1",
    DOCKER_HOST: "tcp://docker.internal:2375",
    EXPORTER_REFRESH_INTERVAL: "1m",
    EXPORTER_STALE_AFTER: "1h30m",
    EXPORTER_LOG_LEVEL: "DEBUG",
    EXPORTER_CONTAINER_LABELS: " com.example.* , team ,,",
    EXPORTER_INCLUDE_CONTAINERS: "shop-*, label:com.docker.compose.project=shop",
    EXPORTER_EXCLUDE_CONTAINERS: "label:team=*",
    EXPORTER_CONTAINER_LABELS_ON_ALL_SERIES: " TRUE ",
    EXPORTER_WEB_CONFIG_FILE: "/etc/exporter/web.yml",
    EXPORTER_RESOURCE_METRICS: "API",
    EXPORTER_RESOURCE_INTERVAL: "30s",
    EXPORTER_CGROUP_ROOT: "/host/sys/fs/cgroup/",
    EXPORTER_PROC_ROOT: "/host/proc",
    EXPORTER_DISK_USAGE_INTERVAL: "0",
    EXPORTER_DATA_ROOT: "/host/data-root/",
    EXPORTER_MAX_CONNECTIONS: "64",
  });
  assert.deepEqual(config, {
    port: 9417,
    host: "127.0.0.1",
    docker: { kind: "tcp", hostname: "docker.internal", port: 2375, url: "tcp://docker.internal:2375" },
    refreshIntervalMs: 60_000,
    staleAfterMs: 5_400_000,
    logLevel: "debug",
    containerLabels: ["com.example.*", "team"],
    includeContainers: [
      { kind: "name", glob: "shop-*" },
      { kind: "label", key: "com.docker.compose.project", valueGlob: "shop" },
    ],
    excludeContainers: [{ kind: "label", key: "team", valueGlob: "*" }],
    containerLabelsOnAllSeries: true,
    webConfigFile: "/etc/exporter/web.yml",
    resourceMetrics: "api",
    resourceIntervalMs: 30_000,
    cgroupRoot: "/host/sys/fs/cgroup",
    procRoot: "/host/proc",
    diskUsageIntervalMs: 0,
    dataRoot: "/host/data-root",
    maxConnections: 64,
  });
});

Deno.test("parseConfig() treats an empty environment variable as unset", () => {
  assert.equal(runConfig([], { EXPORTER_PORT: "" }).port, 8000);
});

Deno.test("parseConfig() lets `--port 9000` and `--port=9000` win over EXPORTER_PORT", () => {
  assert.equal(runConfig(["--port", "9000"], { EXPORTER_PORT: "7000" }).port, 9000);
  assert.equal(runConfig(["--port=9000"], { EXPORTER_PORT: "7000" }).port, 9000);
  assert.equal(runConfig([], { EXPORTER_PORT: "7000" }).port, 7000);
});

Deno.test("parseConfig() lets every flag win over its environment variable", () => {
  const config = runConfig([
    "--host=::1",
    "--docker-host",
    "unix:///run/user/1000/docker.sock",
    "--refresh-interval=2m",
    "--stale-after",
    "5m",
    "--log-level",
    "warn",
    "--container-labels=a,b",
    "--include-containers=web",
    "--exclude-containers",
    "label:x=y",
    "--web.config.file=web.yml",
  ], {
    EXPORTER_HOST: "127.0.0.1",
    DOCKER_HOST: "tcp://elsewhere:2375",
    EXPORTER_REFRESH_INTERVAL: "1s",
    EXPORTER_STALE_AFTER: "2s",
    EXPORTER_LOG_LEVEL: "error",
    EXPORTER_CONTAINER_LABELS: "c",
    EXPORTER_INCLUDE_CONTAINERS: "db",
    EXPORTER_EXCLUDE_CONTAINERS: "db-*",
    EXPORTER_WEB_CONFIG_FILE: "other.yml",
  });
  assert.equal(config.host, "::1");
  assert.deepEqual(config.docker, {
    kind: "unix",
    path: "/run/user/1000/docker.sock",
    url: "unix:///run/user/1000/docker.sock",
  });
  assert.equal(config.refreshIntervalMs, 120_000);
  assert.equal(config.staleAfterMs, 300_000);
  assert.equal(config.logLevel, "warn");
  assert.deepEqual(config.containerLabels, ["a", "b"]);
  assert.deepEqual(config.includeContainers, [{ kind: "name", glob: "web" }]);
  assert.deepEqual(config.excludeContainers, [{ kind: "label", key: "x", valueGlob: "y" }]);
  assert.equal(config.webConfigFile, "web.yml");
});

Deno.test("parseConfig() rejects a bad port, naming the flag or variable that was used", () => {
  const accepts = "use a number from 1 to 65535";
  for (const bad of ["abc", "0", "70000", "-1", "80.5", ""]) {
    assertRejected(["--port", bad], {}, "--port", accepts, "EXPORTER_PORT");
    assertRejected([`--port=${bad}`], {}, "--port", accepts, "EXPORTER_PORT");
    if (bad !== "") assertRejected([], { EXPORTER_PORT: bad }, "EXPORTER_PORT", accepts, "--port");
  }
  assertRejected(["--port=abc"], {}, '--port="abc"', accepts);
});

Deno.test("parseConfig() accepts the extreme ports 1 and 65535", () => {
  assert.equal(runConfig(["--port=1"]).port, 1);
  assert.equal(runConfig(["--port=65535"]).port, 65535);
});

Deno.test("parseConfig() rejects a bad duration, naming the setting and the accepted units", () => {
  const accepts = "use a positive number with a unit: 500ms, 15s, 2m, 1h";
  for (const bad of ["fast", "0s", "15", "1.5s", "-1s"]) {
    assertRejected(["--refresh-interval", bad], {}, "--refresh-interval", accepts);
    assertRejected([], { EXPORTER_REFRESH_INTERVAL: bad }, "EXPORTER_REFRESH_INTERVAL", accepts);
    assertRejected([`--stale-after=${bad}`], {}, "--stale-after", accepts);
    assertRejected([], { EXPORTER_STALE_AFTER: bad }, "EXPORTER_STALE_AFTER", accepts);
  }
});

Deno.test("parseConfig() rejects a stale period that does not exceed the refresh interval", () => {
  const accepts = "must be longer than";
  assertRejected(
    [],
    { EXPORTER_REFRESH_INTERVAL: "30s", EXPORTER_STALE_AFTER: "30s" },
    "EXPORTER_STALE_AFTER=30s",
    accepts,
  );
  assertRejected(["--stale-after=10s"], {}, "--stale-after=10s", "EXPORTER_REFRESH_INTERVAL=15s");
  assertRejected(
    ["--refresh-interval", "1m", "--stale-after", "60s"],
    {},
    "--stale-after=1m must be longer than --refresh-interval=1m",
    "or every container would be dropped between refreshes",
  );
  assert.equal(runConfig(["--refresh-interval=1m", "--stale-after=61s"]).staleAfterMs, 61_000);
});

Deno.test("parseConfig() stretches an unset stale period to twice a refresh interval longer than 15 s", () => {
  assert.equal(runConfig([]).staleAfterMs, 30_000);
  assert.equal(runConfig(["--refresh-interval=5s"]).staleAfterMs, 30_000);
  assert.equal(runConfig(["--refresh-interval=1m"]).staleAfterMs, 120_000);
  assert.equal(runConfig([], { EXPORTER_REFRESH_INTERVAL: "30s" }).staleAfterMs, 60_000);
  // An empty variable is unset, as for every setting; one that is set is taken as it is.
  assert.equal(runConfig(["--refresh-interval=1m"], { EXPORTER_STALE_AFTER: "" }).staleAfterMs, 120_000);
  assert.equal(runConfig(["--refresh-interval=1m"], { EXPORTER_STALE_AFTER: "90s" }).staleAfterMs, 90_000);
});

// A refresh interval becomes a setInterval delay; above 2^31-1 ms Deno (like browsers and Node) clamps the delay
// to 1 ms, so the exporter would list and inspect every container a thousand times a second.
Deno.test("parseConfig() rejects a refresh interval longer than a timer can wait (about 24.8 days)", () => {
  assertRejected(["--refresh-interval=25d", "--stale-after=50d"], {}, '--refresh-interval="25d"', "at most");
  assert.equal(runConfig(["--refresh-interval=24d", "--stale-after=48d"]).refreshIntervalMs, 24 * 86_400_000);
});

// Every refresh lists every container and every collection reads every running one: 1ms meant 385 lists a second.
Deno.test("parseConfig() rejects a refresh or resource interval under 1 s, saying the least it takes", () => {
  for (const bad of ["1ms", "999ms"]) {
    assertRejected([`--refresh-interval=${bad}`], {}, `--refresh-interval="${bad}"`, "use at least 1s");
    assertRejected([], { EXPORTER_RESOURCE_INTERVAL: bad }, `EXPORTER_RESOURCE_INTERVAL="${bad}"`, "use at least 1s");
  }
  assert.equal(runConfig(["--refresh-interval=1s"]).refreshIntervalMs, 1_000);
  assert.equal(runConfig(["--resource-interval=1s"]).resourceIntervalMs, 1_000);
});

Deno.test("parseConfig() reads EXPORTER_MAX_CONNECTIONS and rejects what is not a count from 1 to 100000", () => {
  assert.equal(runConfig(["--max-connections", "1"]).maxConnections, 1);
  assert.equal(runConfig([], { EXPORTER_MAX_CONNECTIONS: " 100000 " }).maxConnections, 100_000);
  for (const bad of ["0", "-5", "12.5", "many", "100001"]) {
    assertRejected([`--max-connections=${bad}`], {}, "--max-connections", "use a number from 1 to 100000");
    assertRejected([], { EXPORTER_MAX_CONNECTIONS: bad }, "EXPORTER_MAX_CONNECTIONS", "use a number from 1 to 100000");
  }
});

Deno.test("parseConfig() rejects an unknown log level, listing the levels", () => {
  assertRejected(["--log-level", "verbose"], {}, "--log-level", "use debug, info, warn, error");
  assertRejected([], { EXPORTER_LOG_LEVEL: "trace" }, "EXPORTER_LOG_LEVEL", "use debug, info, warn, error");
});

Deno.test("parseConfig() accepts unix:///path and tcp://host:port Docker addresses", () => {
  const table: Array<[string, Config["docker"]]> = [
    ["unix:///var/run/docker.sock", { kind: "unix", path: "/var/run/docker.sock", url: "unix:///var/run/docker.sock" }],
    ["tcp://host:2375", { kind: "tcp", hostname: "host", port: 2375, url: "tcp://host:2375" }],
    ["tcp://10.0.0.5:2376/", { kind: "tcp", hostname: "10.0.0.5", port: 2376, url: "tcp://10.0.0.5:2376/" }],
    ["tcp://[::1]:2375", { kind: "tcp", hostname: "::1", port: 2375, url: "tcp://[::1]:2375" }],
  ];
  for (const [text, expected] of table) {
    assert.deepEqual(runConfig(["--docker-host", text]).docker, expected, text);
    assert.deepEqual(runConfig([], { DOCKER_HOST: text }).docker, expected, text);
    assert.deepEqual(parseDockerEndpoint(text), expected, text);
  }
});

Deno.test("parseConfig() rejects other Docker addresses, naming DOCKER_HOST or --docker-host", () => {
  const accepts = "use unix:///path/to/docker.sock or tcp://host:port";
  for (
    const bad of ["http://x", "unix://relative", "unix://", "tcp://host", "tcp://host:0", "tcp://host:70000", "/x"]
  ) {
    assertRejected([], { DOCKER_HOST: bad }, "DOCKER_HOST", accepts, "--docker-host");
    assertRejected([`--docker-host=${bad}`], {}, "--docker-host", accepts);
    assert.equal(parseDockerEndpoint(bad), undefined, bad);
  }
});

Deno.test("parseConfig() rejects a listen address with characters no address has", () => {
  assertRejected(["--host", "0.0.0.0/24"], {}, "--host", "use an IP or host name such as 0.0.0.0");
  assertRejected([], { EXPORTER_HOST: "a b" }, "EXPORTER_HOST", "use an IP or host name such as 0.0.0.0");
});

Deno.test("parseConfig() accepts container label globs and rejects keys that are not label keys", () => {
  assert.deepEqual(
    runConfig(["--container-labels", "com.example.*,team?,org/app-name,a_b"]).containerLabels,
    ["com.example.*", "team?", "org/app-name", "a_b"],
  );
  const accepts = "use comma-separated keys of letters, digits, . _ - / with * and ? as globs";
  assertRejected(["--container-labels=ok,bad key"], {}, '--container-labels has "bad key"', accepts);
  assertRejected([], { EXPORTER_CONTAINER_LABELS: "x=y" }, 'EXPORTER_CONTAINER_LABELS has "x=y"', accepts);
  // Only the first `=` separates a flag from its value.
  assertRejected(["--container-labels=a=b"], {}, '--container-labels has "a=b"', accepts);
});

Deno.test("parseConfig() rejects a container pattern that is neither a name glob nor label:KEY=VALUE_GLOB", () => {
  assertRejected(
    ["--include-containers=web-*,/db"],
    {},
    '--include-containers has "/db", which is neither a container name glob',
    "letters, digits, _ . - with * and ?",
  );
  assertRejected(
    [],
    { EXPORTER_EXCLUDE_CONTAINERS: "label:team" },
    'EXPORTER_EXCLUDE_CONTAINERS has "label:team", which has no value',
    "use label:KEY=VALUE_GLOB (label:KEY=* for any value)",
  );
  assertRejected(
    [],
    { EXPORTER_EXCLUDE_CONTAINERS: "label:=x" },
    'EXPORTER_EXCLUDE_CONTAINERS has "label:=x", which names no label key',
    "use label:KEY=VALUE_GLOB",
  );
  assertRejected(
    [],
    { EXPORTER_INCLUDE_CONTAINERS: "a b" },
    'EXPORTER_INCLUDE_CONTAINERS has "a b"',
    "nor label:KEY=VALUE_GLOB",
  );
});

Deno.test("parseConfig() reads EXPORTER_CONTAINER_LABELS_ON_ALL_SERIES as true or false, and names the cap in --help", () => {
  assert.equal(runConfig(["--container-labels-on-all-series", "true"]).containerLabelsOnAllSeries, true);
  assert.equal(runConfig([], { EXPORTER_CONTAINER_LABELS_ON_ALL_SERIES: "False" }).containerLabelsOnAllSeries, false);
  for (const bad of ["yes", "1", "on"]) {
    assertRejected(
      [],
      { EXPORTER_CONTAINER_LABELS_ON_ALL_SERIES: bad },
      "EXPORTER_CONTAINER_LABELS_ON_ALL_SERIES",
      "use true or false",
    );
  }
  // lib/config may not import lib/metrics, so the help spells the cap out; this holds it to the constant.
  const setting = SETTINGS.find((s) => s.env === "EXPORTER_CONTAINER_LABELS_ON_ALL_SERIES")!;
  assert.match(setting.help, new RegExp(`at most ${MAX_SERIES_LABEL_KEYS} distinct label names`));
});

Deno.test("parseConfig() rejects an unknown argument and a flag without its value", () => {
  assertRejected(["--bogus"], {}, '"--bogus"', "see --help");
  assertRejected(["--port"], {}, "--port needs a value", "TCP port to serve /metrics on (1-65535)");
});

Deno.test("parseConfig() answers --help, -h and --version before validating anything", () => {
  assert.deepEqual(parseConfig(["--help"], envOf({ EXPORTER_PORT: "abc" })), { kind: "help" });
  assert.deepEqual(parseConfig(["--port", "abc", "-h"], envOf()), { kind: "help" });
  assert.deepEqual(parseConfig(["--version"], envOf({ DOCKER_HOST: "http://x" })), { kind: "version" });
});

Deno.test("parseConfig() --healthcheck carries the validated config, so it probes the configured port", () => {
  const command = parseConfig(["--healthcheck", "--port=9100"], envOf({ EXPORTER_HOST: "127.0.0.1" }));
  assert.equal(command.kind, "healthcheck");
  const { config } = command as Extract<Command, { kind: "healthcheck" }>;
  assert.equal(config.port, 9100);
  assert.equal(config.host, "127.0.0.1");
  assertRejected(["--healthcheck", "--port=0"], {}, "--port", "use a number from 1 to 65535");
});

/** `parseConfig` with an environment and the paths where a socket "exists". */
function discovered(vars: Record<string, string>, sockets: string[]): Extract<Command, { kind: "run" }> {
  const command = parseConfig([], (name) => vars[name], (path) => sockets.includes(path));
  assert.equal(command.kind, "run");
  return command as Extract<Command, { kind: "run" }>;
}

Deno.test("with DOCKER_HOST unset, the engine is the first standard socket that exists, in the documented order", () => {
  const xdg = { XDG_RUNTIME_DIR: "/run/user/1000" };
  const all = [
    "/var/run/docker.sock",
    "/run/user/1000/docker.sock",
    "/run/podman/podman.sock",
    "/run/user/1000/podman/podman.sock",
  ];
  for (let first = 0; first < all.length; first++) {
    const { config, sources } = discovered(xdg, all.slice(first));
    assert.deepEqual(config.docker, { kind: "unix", path: all[first], url: `unix://${all[first]}` });
    assert.deepEqual(sources.discovery, { tried: all, found: all[first] });
    assert.equal(sources.of.get("docker"), `DOCKER_HOST unset, so unix://${all[first]}`);
  }
});

Deno.test("with DOCKER_HOST unset and no socket there yet, the engine is the first standard one, waited for", () => {
  const { config, sources } = discovered({}, []);
  assert.equal(config.docker.url, "unix:///var/run/docker.sock");
  // Without XDG_RUNTIME_DIR there are no rootless sockets to look for.
  assert.deepEqual(sources.discovery, { tried: ["/var/run/docker.sock", "/run/podman/podman.sock"], found: undefined });
});

Deno.test("a DOCKER_HOST that is set is taken as it is, and nothing is looked for", () => {
  const { config, sources } = discovered({ DOCKER_HOST: "unix:///srv/docker.sock" }, ["/var/run/docker.sock"]);
  assert.equal(config.docker.url, "unix:///srv/docker.sock");
  assert.equal(sources.discovery, undefined);
  assert.equal(sources.of.get("docker"), "DOCKER_HOST=unix:///srv/docker.sock");
  assert.equal(sources.of.get("port"), "EXPORTER_PORT=8000");
});

Deno.test("helpText() lists every flag with its variable and default", () => {
  const text = helpText("9.9.9");
  assert.ok(text.startsWith("docker-exporter 9.9.9: "));
  for (
    const [flag, env, fallback] of [
      ["--port", "EXPORTER_PORT", '"8000"'],
      ["--host", "EXPORTER_HOST", '"0.0.0.0"'],
      ["--docker-host", "DOCKER_HOST", '""'],
      ["--refresh-interval", "EXPORTER_REFRESH_INTERVAL", '"15s"'],
      ["--stale-after", "EXPORTER_STALE_AFTER", '""'],
      ["--log-level", "EXPORTER_LOG_LEVEL", '"info"'],
      ["--container-labels", "EXPORTER_CONTAINER_LABELS", '""'],
      ["--web.config.file", "EXPORTER_WEB_CONFIG_FILE", '""'],
    ]
  ) {
    const line = text.split("\n").find((l) => l.trimStart().startsWith(flag + " "));
    assert.ok(line, `no line for ${flag}`);
    assert.ok(line.includes(env) && line.endsWith(`(default ${fallback})`), line);
  }
  for (const flag of ["--healthcheck", "--help", "--version"]) assert.ok(text.includes(`  ${flag} `), flag);
});

Deno.test("parseDuration() reads Prometheus-style durations into milliseconds", () => {
  const table: Array<[string, number | undefined]> = [
    ["500ms", 500],
    ["15s", 15_000],
    ["2m", 120_000],
    ["1h", 3_600_000],
    ["1h30m", 5_400_000],
    ["1m30s500ms", 90_500],
    ["1d", 86_400_000],
    [" 15s ", 15_000],
    ["fast", undefined],
    ["0s", undefined],
    ["0ms", undefined],
    ["15", undefined],
    ["1.5s", undefined],
    ["-1s", undefined],
    ["s", undefined],
    ["", undefined],
    ["15 s", undefined],
    ["1w", undefined],
    ["99999999999999999d", undefined],
  ];
  for (const [text, expected] of table) assert.equal(parseDuration(text), expected, JSON.stringify(text));
});

Deno.test("formatDuration() writes the shortest duration parseDuration() reads back", () => {
  const table: Array<[number, string]> = [
    [500, "500ms"],
    [1500, "1500ms"],
    [15_000, "15s"],
    [90_000, "90s"],
    [
      120_000,
      "2m",
    ],
    [5_400_000, "90m"],
    [7_200_000, "2h"],
  ];
  for (const [ms, text] of table) {
    assert.equal(formatDuration(ms), text);
    assert.equal(parseDuration(text), ms);
  }
});

Deno.test("hostPort() writes an IPv6 address in brackets, as URLs and --allow-net want it", () => {
  assert.equal(hostPort("::1", 8000), "[::1]:8000");
  assert.equal(hostPort("[::1]", 8000), "[::1]:8000");
  assert.equal(hostPort("0.0.0.0", 8000), "0.0.0.0:8000");
  assert.equal(hostPort("exporter.example", 9417), "exporter.example:9417");
});

Deno.test("every row of SETTINGS has a flag, a variable, help, a parser and a field of its own, and --help lists it", () => {
  const lines = helpText("1.0.0").split("\n");
  for (const setting of SETTINGS) {
    assert.match(setting.flag, /^--[a-z][a-z.-]*$/, setting.env);
    assert.match(setting.env, /^(EXPORTER_[A-Z_]+|DOCKER_HOST)$/, setting.flag);
    assert.ok(setting.help.trim() !== "", `${setting.flag} has no help`);
    assert.equal(typeof setting.parse, "function", `${setting.flag} has no parser`);
    const line = lines.find((l) => l.trimStart().startsWith(`${setting.flag} `));
    assert.ok(line, `--help has no line for ${setting.flag}`);
    assert.equal(line.trim().split(/\s+/)[1], setting.env);
    assert.ok(line.includes(setting.help), `the ${setting.flag} line lacks its help`);
    assert.ok(
      line.endsWith(`(default ${JSON.stringify(setting.default)})`),
      `the ${setting.flag} line lacks its default`,
    );
  }
  for (const key of ["flag", "env", "field"] as const) {
    assert.equal(new Set(SETTINGS.map((s) => s[key])).size, SETTINGS.length, `two rows share a ${key}`);
  }
  // Each Config field is filled by exactly one row.
  assert.deepEqual(SETTINGS.map((s) => s.field).sort(), Object.keys(runConfig([])).sort());
});

Deno.test("every setting's default passes its own parser", () => {
  for (const setting of SETTINGS) {
    assert.doesNotThrow(() => setting.parse(setting.default, setting.env), setting.env);
  }
});
