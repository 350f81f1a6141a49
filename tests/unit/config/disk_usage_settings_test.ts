/** The disk usage settings: EXPORTER_DISK_USAGE_INTERVAL (0 turns it off) and EXPORTER_DATA_ROOT. */
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

Deno.test("the disk usage interval is 5m unless set, 0 turns it off, and the flag wins over the variable", () => {
  assert.equal(config([]).diskUsageIntervalMs, 300_000);
  assert.equal(config([], { EXPORTER_DISK_USAGE_INTERVAL: "0" }).diskUsageIntervalMs, 0);
  assert.equal(config(["--disk-usage-interval=0s"]).diskUsageIntervalMs, 0);
  assert.equal(
    config(["--disk-usage-interval", "1h"], { EXPORTER_DISK_USAGE_INTERVAL: "0" }).diskUsageIntervalMs,
    3.6e6,
  );
});

Deno.test("a disk usage interval under 10s, or that is not a duration, is refused, saying 0 turns it off", () => {
  assert.equal(
    rejected([], { EXPORTER_DISK_USAGE_INTERVAL: "5s" }),
    'EXPORTER_DISK_USAGE_INTERVAL="5s" is too short; use at least 10s (the engine walks every layer and volume each ' +
      "time); or 0 to turn it off",
  );
  assert.match(
    rejected(["--disk-usage-interval", "never"], {}),
    /^--disk-usage-interval="never" is not a duration; .*; or 0 to turn it off$/,
  );
});

Deno.test("the data root is unset unless given, and must be an absolute path", () => {
  assert.equal(config([]).dataRoot, undefined);
  assert.equal(config(["--data-root", "/host/data-root/"]).dataRoot, "/host/data-root");
  assert.equal(
    rejected([], { EXPORTER_DATA_ROOT: "var/lib/docker" }),
    'EXPORTER_DATA_ROOT="var/lib/docker" is not an absolute path; use the directory where the host\'s ' +
      "/var/lib/docker is mounted, such as /host/data-root",
  );
});

Deno.test("helpText() lists the disk usage settings, and says that 0 turns the interval off", () => {
  const lines = helpText("1.0.0").split("\n");
  const interval = lines.find((l) => l.trimStart().startsWith("--disk-usage-interval "))!;
  assert.match(
    interval,
    /EXPORTER_DISK_USAGE_INTERVAL .*0 turns it off \(unlike the other intervals, which refuse 0\).*\(default "5m"\)$/,
  );
  const root = lines.find((l) => l.trimStart().startsWith("--data-root "))!;
  assert.match(root, /EXPORTER_DATA_ROOT .*\(default ""\)$/);
});
