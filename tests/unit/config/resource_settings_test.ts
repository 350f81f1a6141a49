/** The resource metrics settings: EXPORTER_RESOURCE_METRICS, _INTERVAL, EXPORTER_CGROUP_ROOT and EXPORTER_PROC_ROOT. */
import assert from "node:assert/strict";
import { type Command, type Config, ConfigError, helpText, parseConfig } from "../../../lib/config/settings.ts";

function config(args: string[], vars: Record<string, string> = {}): Config {
  const command = parseConfig(args, (name) => vars[name]);
  assert.equal(command.kind, "run");
  return (command as Extract<Command, { kind: "run" }>).config;
}

function rejected(args: string[], vars: Record<string, string>): string {
  try {
    parseConfig(args, (name) => vars[name]);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${error}`);
    return error.message;
  }
  assert.fail(`${JSON.stringify(args)} ${JSON.stringify(vars)} was accepted`);
}

Deno.test("the resource settings read flags and variables, the flag winning", () => {
  for (const mode of ["auto", "cgroup", "api", "off"] as const) {
    assert.equal(config(["--resource-metrics", mode]).resourceMetrics, mode);
    assert.equal(config([], { EXPORTER_RESOURCE_METRICS: ` ${mode.toUpperCase()} ` }).resourceMetrics, mode);
  }
  assert.equal(config(["--resource-metrics=off"], { EXPORTER_RESOURCE_METRICS: "api" }).resourceMetrics, "off");
  assert.equal(config(["--resource-interval", "1500ms"]).resourceIntervalMs, 1500);
  assert.equal(config([], { EXPORTER_RESOURCE_INTERVAL: "2m" }).resourceIntervalMs, 120_000);
  const mounted = config(["--cgroup-root=/host/sys/fs/cgroup//", "--proc-root", "/host/proc/"]);
  assert.deepEqual([mounted.cgroupRoot, mounted.procRoot], ["/host/sys/fs/cgroup", "/host/proc"]);
});

Deno.test("a bad resource setting is refused with a message naming it and what it accepts", () => {
  assert.equal(
    rejected([], { EXPORTER_RESOURCE_METRICS: "cadvisor" }),
    'EXPORTER_RESOURCE_METRICS="cadvisor" is not a resource metrics source; use auto, cgroup, api, off',
  );
  assert.equal(
    rejected(["--resource-metrics", "yes"], {}),
    '--resource-metrics="yes" is not a resource metrics source; use auto, cgroup, api, off',
  );
  // The duration wording is shared with the other durations; this one must name its own setting.
  assert.ok(rejected(["--resource-interval=0s"], {}).startsWith('--resource-interval="0s" is not a duration; use '));
  assert.equal(
    rejected([], { EXPORTER_RESOURCE_INTERVAL: "30d" }),
    'EXPORTER_RESOURCE_INTERVAL="30d" is too long for a timer; use at most 24d',
  );
  assert.equal(
    rejected([], { EXPORTER_CGROUP_ROOT: "host/sys/fs/cgroup" }),
    'EXPORTER_CGROUP_ROOT="host/sys/fs/cgroup" is not an absolute path; use the directory where the host\'s ' +
      "/sys/fs/cgroup is mounted, such as /host/sys/fs/cgroup",
  );
  assert.equal(
    rejected(["--proc-root", "proc"], {}),
    '--proc-root="proc" is not an absolute path; use the directory where the host\'s /proc is mounted, ' +
      "such as /host/proc",
  );
});

Deno.test("helpText() lists the resource settings with their defaults", () => {
  const lines = helpText("1.0.0").split("\n");
  for (
    const [flag, env, fallback] of [
      ["--resource-metrics", "EXPORTER_RESOURCE_METRICS", '"auto"'],
      ["--resource-interval", "EXPORTER_RESOURCE_INTERVAL", '""'],
      ["--cgroup-root", "EXPORTER_CGROUP_ROOT", '"/sys/fs/cgroup"'],
      ["--proc-root", "EXPORTER_PROC_ROOT", '"/proc"'],
    ]
  ) {
    const line = lines.find((l) => l.trimStart().startsWith(`${flag} `));
    assert.ok(line, `no line for ${flag}`);
    assert.equal(line.trim().split(/\s+/)[1], env);
    assert.ok(line.endsWith(`(default ${fallback})`), line);
  }
});
