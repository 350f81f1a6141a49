/** The parsers the settings table's rows share, on their own; parseConfig's tests cover them through every setting. */
import assert from "node:assert/strict";
import {
  absoluteDirectory,
  ConfigError,
  duration,
  durationOrOff,
  integerIn,
  MAX_TIMER_MS,
  oneOf,
  optional,
  type Parser,
  refuse,
  timerDuration,
} from "../../../lib/config/parsers.ts";

/** The message `parse` refuses `value` with, given as coming from `--flag`. */
function refusal<T>(parse: Parser<T>, value: string): string {
  try {
    parse(value, "--flag");
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${error}`);
    return error.message;
  }
  assert.fail(`${JSON.stringify(value)} was accepted`);
}

Deno.test("refuse() names the source and quotes the value as JSON", () => {
  const error = refuse("EXPORTER_HOST", 'a "b"', "is not a listen address");
  assert.ok(error instanceof ConfigError);
  assert.equal(error.message, 'EXPORTER_HOST="a \\"b\\"" is not a listen address');
});

Deno.test("integerIn() takes whole numbers within its bounds, with no more digits than its maximum has", () => {
  const parse = integerIn("a count", 1, 500);
  assert.equal(parse("1", "--flag"), 1);
  assert.equal(parse(" 500 ", "--flag"), 500);
  assert.equal(parse("007", "--flag"), 7);
  for (const bad of ["0", "501", "0001", "-1", "1.5", "1e2", "", " ", "ten"]) {
    assert.equal(refusal(parse, bad), `--flag=${JSON.stringify(bad)} is not a count; use a number from 1 to 500`);
  }
});

Deno.test("oneOf() takes a choice in any case and with blanks around it, and lists the choices when refusing", () => {
  const parse = oneOf("a colour", ["red", "green"] as const);
  assert.equal(parse(" GREEN ", "--flag"), "green");
  assert.equal(refusal(parse, "blue"), '--flag="blue" is not a colour; use red, green');
  assert.equal(refusal(parse, "re d"), '--flag="re d" is not a colour; use red, green');
});

Deno.test("absoluteDirectory() drops trailing slashes but keeps the root, and refuses a relative path", () => {
  const parse = absoluteDirectory("/proc");
  assert.equal(parse("/host/proc//", "--flag"), "/host/proc");
  assert.equal(parse(" /host/proc ", "--flag"), "/host/proc");
  assert.equal(parse("/", "--flag"), "/");
  assert.equal(
    refusal(parse, "host/proc"),
    '--flag="host/proc" is not an absolute path; use the directory where the host\'s /proc is mounted, such as ' +
      "/host/proc",
  );
});

Deno.test("optional() reads empty text as unset and hands anything else, blanks too, to its parser", () => {
  const parse = optional(duration);
  assert.equal(parse("", "--flag"), undefined);
  assert.equal(parse("2m", "--flag"), 120_000);
  assert.match(refusal(parse, " "), /^--flag=" " is not a duration; /);
});

Deno.test("timerDuration() refuses what a timer cannot hold and what is shorter than its minimum, saying why", () => {
  const parse = timerDuration(1500, "because");
  assert.equal(parse("1500ms", "--flag"), 1500);
  assert.equal(parse(`${MAX_TIMER_MS}ms`, "--flag"), MAX_TIMER_MS);
  assert.equal(
    refusal(parse, `${MAX_TIMER_MS + 1}ms`),
    `--flag="${MAX_TIMER_MS + 1}ms" is too long for a timer; use at most 24d`,
  );
  assert.equal(refusal(parse, "1s"), '--flag="1s" is too short; use at least 1500ms (because)');
  assert.equal(
    refusal(parse, "soon"),
    '--flag="soon" is not a duration; use a positive number with a unit: 500ms, 15s, 2m, 1h30m',
  );
});

Deno.test("durationOrOff() takes 0, with or without a unit, as off, and else a timer duration no shorter than its least", () => {
  const parse = durationOrOff(10_000, "it is costly");
  for (const off of ["0", " 0 ", "00", "0s", "0ms", "0m", "0h", "0d"]) assert.equal(parse(off, "--flag"), 0, off);
  assert.equal(parse("5m", "--flag"), 300_000);
  assert.equal(parse("10s", "--flag"), 10_000);
  assert.equal(refusal(parse, "9s"), '--flag="9s" is too short; use at least 10s (it is costly); or 0 to turn it off');
  assert.equal(
    refusal(parse, "-1"),
    '--flag="-1" is not a duration; use a positive number with a unit: 500ms, 15s, 2m, 1h30m; or 0 to turn it off',
  );
  assert.equal(refusal(parse, "30d"), '--flag="30d" is too long for a timer; use at most 24d; or 0 to turn it off');
  assert.equal(
    refusal(parse, "off"),
    '--flag="off" is not a duration; use a positive number with a unit: 500ms, ' +
      "15s, 2m, 1h30m; or 0 to turn it off",
  );
});
