import assert from "node:assert/strict";
import {
  escapeHelpText,
  escapeLabelValue,
  formatOpenMetrics,
  formatOpenMetricsBody,
  formatPieces,
  formatSampleGroup,
  formatText,
  formatValue,
  labelSortKey,
  type MetricFamily,
  OPENMETRICS_CONTENT_TYPE,
  OPENMETRICS_EOF,
  TEXT_CONTENT_TYPE,
} from "../../../lib/metrics/exposition.ts";
import { assertGolden, HAVE_PROMTOOL, promtoolCheckMetrics, testdata } from "../../support/golden.ts";

/**
 * The fixture behind tests/testdata/exposition.prom and exposition.om. Families and samples are deliberately
 * out of order; every escaping case and special value appears once.
 */
const FAMILIES: readonly MetricFamily[] = [
  {
    name: "fixture_values",
    help: "Every kind of number.",
    type: "gauge",
    samples: [
      { labels: [["case", "nan"]], value: NaN },
      { labels: [["case", "plus_inf"]], value: Infinity },
      { labels: [["case", "minus_inf"]], value: -Infinity },
      { labels: [["case", "minus_zero"]], value: -0 },
      { labels: [["case", "zero"]], value: 0 },
      { labels: [["case", "large"]], value: 1.5e21 },
      { labels: [["case", "max_safe_integer"]], value: Number.MAX_SAFE_INTEGER },
      { labels: [["case", "unix_seconds"]], value: 1795619525.4757175 },
      { labels: [["case", "fraction"]], value: 0.1 + 0.2 },
      { labels: [["case", "tiny"]], value: 1.5e-7 },
      { labels: [["case", "negative"]], value: -3.25 },
    ],
  },
  {
    name: "fixture_requests_total",
    help: "A counter: its OpenMetrics family name drops _total.",
    type: "counter",
    samples: [
      { labels: [["code", "500"], ["method", "post"]], value: 2 },
      { labels: [["code", "200"], ["method", "get"]], value: 1027 },
    ],
  },
  {
    name: "fixture_empty",
    help: "A gauge family with no samples.",
    type: "gauge",
    samples: [],
  },
  {
    name: "fixture_empty_events_total",
    help: "A counter family with no samples.",
    type: "counter",
    samples: [],
  },
  {
    name: "fixture_escaping_info",
    help: 'Escaping: a backslash \\ a "quote"\nand a second line.',
    type: "gauge",
    samples: [
      { labels: [["value", 'quote " inside']], value: 1 },
      { labels: [["value", "backslash \\ inside"]], value: 1 },
      { labels: [["value", "newline\ninside"]], value: 1 },
      { labels: [["value", 'all three: \\"\n\\n']], value: 1 },
      { labels: [["value", "utf-8 héllo✓€😀"]], value: 1 },
      { labels: [["value", ""]], value: 1 },
    ],
  },
  {
    name: "fixture_up",
    help: "A sample without labels.",
    type: "gauge",
    samples: [{ labels: [], value: 1 }],
  },
];

/** Reverses the families and the samples in each, to show that input order does not reach the output. */
function reordered(families: readonly MetricFamily[]): MetricFamily[] {
  return [...families].reverse().map((family) => ({ ...family, samples: [...family.samples].reverse() }));
}

Deno.test("formatText() matches tests/testdata/exposition.prom", async () => {
  await assertGolden("exposition.prom", formatText(FAMILIES));
});

Deno.test("formatOpenMetrics() matches tests/testdata/exposition.om", async () => {
  await assertGolden("exposition.om", formatOpenMetrics(FAMILIES));
});

Deno.test({
  name: "promtool check metrics accepts tests/testdata/exposition.prom without a word",
  ignore: !HAVE_PROMTOOL,
  async fn() {
    const { code, output } = await promtoolCheckMetrics(await Deno.readTextFile(testdata("exposition.prom")));
    assert.equal(output, "");
    assert.equal(code, 0);
  },
});

Deno.test("formatText() and formatOpenMetrics() sort families and samples whatever the input order", () => {
  assert.equal(formatText(reordered(FAMILIES)), formatText(FAMILIES));
  assert.equal(formatOpenMetrics(reordered(FAMILIES)), formatOpenMetrics(FAMILIES));
  const lines = formatText(FAMILIES).split("\n").filter((line) => line.startsWith("fixture_requests_total"));
  assert.deepEqual(lines, [
    'fixture_requests_total{code="200",method="get"} 1027',
    'fixture_requests_total{code="500",method="post"} 2',
  ]);
});

Deno.test("formatText() writes HELP, TYPE, then samples, and ends with one newline", () => {
  const text = formatText([{ name: "up", help: "Up.", type: "gauge", samples: [{ labels: [], value: 1 }] }]);
  assert.equal(text, "# HELP up Up.\n# TYPE up gauge\nup 1\n");
  assert.equal(formatText([]), "");
});

Deno.test("formatText() escapes quotes in label values", () => {
  const text = formatText([{ name: "x", help: "h", type: "gauge", samples: [{ labels: [["l", 'a"b']], value: 1 }] }]);
  assert.equal(text, '# HELP x h\n# TYPE x gauge\nx{l="a\\"b"} 1\n');
});

Deno.test("formatText() keeps the counter's _total name on HELP and TYPE lines", () => {
  const text = formatText([{ name: "e_total", help: "h", type: "counter", samples: [{ labels: [], value: 3 }] }]);
  assert.equal(text, "# HELP e_total h\n# TYPE e_total counter\ne_total 3\n");
});

Deno.test("formatOpenMetrics() names a counter family without _total and its samples with it", () => {
  const text = formatOpenMetrics([{
    name: "e_total",
    help: "h",
    type: "counter",
    samples: [{ labels: [], value: 3 }],
  }]);
  assert.equal(text, "# TYPE e counter\n# HELP e h\ne_total 3\n# EOF\n");
});

Deno.test("formatOpenMetrics() ends with exactly one # EOF, even with no families", () => {
  assert.equal(formatOpenMetrics([]), "# EOF\n");
  const text = formatOpenMetrics(FAMILIES);
  assert.ok(text.endsWith("\n# EOF\n"));
  assert.equal(text.split("# EOF").length, 2);
  assert.equal(formatOpenMetricsBody(FAMILIES) + OPENMETRICS_EOF, text);
  assert.ok(!formatOpenMetricsBody(FAMILIES).includes("# EOF"));
});

Deno.test("formatValue() writes NaN, +Inf, -Inf and 0 for -0 exactly", () => {
  const table: Array<[number, string]> = [
    [NaN, "NaN"],
    [Infinity, "+Inf"],
    [-Infinity, "-Inf"],
    [-0, "0"],
    [0, "0"],
    [1, "1"],
    [-3.25, "-3.25"],
    [0.1 + 0.2, "0.30000000000000004"],
    [1.5e21, "1.5e+21"],
    [1.5e-7, "1.5e-7"],
    [Number.MAX_SAFE_INTEGER, "9007199254740991"],
  ];
  for (const [value, text] of table) assert.equal(formatValue(value), text, String(value));
});

Deno.test("escapeHelpText() escapes backslash and newline but not quotes", () => {
  assert.equal(escapeHelpText('a\\b\nc"d'), 'a\\\\b\\nc"d');
});

Deno.test("escapeLabelValue() escapes backslash, quote and newline, and nothing else", () => {
  assert.equal(escapeLabelValue('a\\b\nc"d\te'), 'a\\\\b\\nc\\"d\te');
  assert.equal(escapeLabelValue("héllo✓€😀"), "héllo✓€😀");
});

Deno.test("the content types name the format versions Prometheus negotiates", () => {
  assert.equal(TEXT_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
  assert.equal(OPENMETRICS_CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8");
});

const byKey = (a: string, b: string) => (labelSortKey(a) < labelSortKey(b) ? -1 : 1);

/** `family` with its samples cut into groups, one per value of the first label, sorted by `order`. */
function grouped(family: MetricFamily, order: (a: string, b: string) => number = byKey): MetricFamily {
  const byValue = Map.groupBy(family.samples, (sample) => sample.labels[0]?.[1] ?? "");
  const values = [...byValue.keys()].sort(order);
  return { ...family, samples: [], groups: () => values.map((value) => byValue.get(value)!) };
}

Deno.test("formatText() and formatOpenMetrics() write a family given in groups as the same samples held whole", () => {
  // Values that need escaping, and values that prefix one another.
  const values = ['a"', "a", "a\\", "ab", "a\n", "a\nb", "", "é", "a b", 'a"b', "A", "😀", "a\\b"];
  const family: MetricFamily = {
    name: "fixture_grouped",
    help: "Grouped.",
    type: "gauge",
    samples: values.flatMap((value, i) => [
      { labels: [["first", value], ["second", "y"]], value: i },
      { labels: [["first", value], ["second", "x"]], value: -i },
      { labels: [["first", value]], value: 0.5 },
    ]),
  };
  const expected = formatText([family]);
  assert.equal(formatText([grouped(family)]), expected);
  assert.equal(formatOpenMetrics([grouped(family)]), formatOpenMetrics([family]));
  // The values need the key: in plain string order ("a" before "a b") the same groups come out unsorted.
  assert.notEqual(formatText([grouped(family, (a, b) => (a < b ? -1 : 1))]), expected);
});

Deno.test("formatText() and formatOpenMetrics() write a family's kept lines (blocks) as the groups they were made of", () => {
  const values = ['a"', "a", "a\\", "ab", "a\n", "", "é", "a b"];
  const family: MetricFamily = {
    name: "fixture_blocks",
    help: "Kept lines.",
    type: "counter",
    samples: values.flatMap((value, i) => [
      { labels: [["first", value], ["second", "y"]], value: i },
      { labels: [["first", value], ["second", "x"]], value: NaN },
    ]),
  };
  const groups = grouped(family).groups!;
  const kept = [...groups()].map((group) => formatSampleGroup(family.name, group));
  // One group's lines: sorted, escaped, each ending in a newline.
  assert.equal(
    formatSampleGroup(family.name, family.samples.slice(0, 2)),
    'fixture_blocks{first="a\\"",second="x"} NaN\nfixture_blocks{first="a\\"",second="y"} 0\n',
  );
  assert.equal(formatSampleGroup(family.name, []), "");
  const withBlocks = { ...family, samples: [], blocks: () => kept };
  assert.equal(formatText([withBlocks]), formatText([family]));
  assert.equal(formatOpenMetrics([withBlocks]), formatOpenMetrics([family]));
});

Deno.test("formatPieces() cuts a large family into pieces of about 16 K characters that join to formatText()", () => {
  const family: MetricFamily = {
    name: "fixture_large",
    help: "Large.",
    type: "gauge",
    samples: Array.from({ length: 5_000 }, (_, i) => ({ labels: [["n", String(i).padStart(6, "0")]], value: i })),
  };
  for (const input of [family, grouped(family)]) {
    const pieces = Array.from(formatPieces([input], "text"));
    assert.equal(pieces.join(""), formatText([family]));
    assert.ok(pieces.length > 5, `${pieces.length} pieces`);
    for (const piece of pieces) assert.ok(piece.length < 16 * 1024 + 100, `a piece of ${piece.length}`);
  }
});
