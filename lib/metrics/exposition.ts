/**
 * The Prometheus text formatter: metric families in, exposition text out.
 * Pure: no I/O, no clock, nothing about Docker. Names are validated where families are defined.
 */

/** One sample: its label pairs (in output order) and its value. */
export interface Sample {
  labels: ReadonlyArray<readonly [string, string]>;
  value: number;
}

/** A metric family. A counter's `name` ends in `_total`, as its samples are named. */
export interface MetricFamily {
  name: string;
  help: string;
  type: "gauge" | "counter";
  samples: readonly Sample[];
  /**
   * The same samples made a group at a time, for a family too large to hold whole (one group per container at
   * 10,000 containers). When present the formatters use it instead of `samples`, and it must keep this promise:
   * once formatted, every line of a group sorts before every line of the next group, so that sorting each group
   * on its own sorts the family. Groups of samples that all start with the same label, one value per group, given
   * in the order of `labelSortKey` of that value, keep it.
   */
  groups?: () => Iterable<readonly Sample[]>;
  /**
   * The family's sample lines already formatted, for a family that keeps them (see `formatSampleGroup`): strings
   * of whole lines, each line ending in a newline, which joined in order give what `samples` would format to. When
   * present the formatters use it instead of `samples` and `groups`.
   */
  blocks?: () => Iterable<string>;
  /**
   * What the family's lines are made from, when that is known and cheap to compare: a family with the same name
   * and the same `inputs` (each compared with `===`, in order) as one formatted before formats to the same text,
   * so a cache may keep that text rather than format it again. Left out, the family is formatted every time.
   */
  inputs?: readonly unknown[];
}

/** `Content-Type` of `formatText` output (Prometheus text format 0.0.4). */
export const TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
/** `Content-Type` of `formatOpenMetrics` output (OpenMetrics 1.0.0). */
export const OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/** Escapes a HELP text for the 0.0.4 text format: backslash and newline. */
export function escapeHelpText(help: string): string {
  return help.replace(/[\\\n]/g, (c) => (c === "\n" ? "\\n" : "\\\\"));
}

const LABEL_VALUE_SPECIAL = /[\\"\n]/;

/** Escapes a label value (and an OpenMetrics HELP text): backslash, double quote and newline. */
export function escapeLabelValue(value: string): string {
  // Nearly every value needs nothing, and testing for that is cheaper than a replace that finds nothing.
  if (!LABEL_VALUE_SPECIAL.test(value)) return value;
  return value.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

/** Writes a sample value as both formats spell it: `NaN`, `+Inf`, `-Inf`, or the shortest round-trip decimal. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return Object.is(value, -0) ? "0" : String(value);
}

function sampleLine(name: string, sample: Sample): string {
  const labels = sample.labels;
  if (labels.length === 0) return `${name} ${formatValue(sample.value)}`;
  let line = `${name}{${labels[0][0]}="${escapeLabelValue(labels[0][1])}"`;
  for (let i = 1; i < labels.length; i++) line += `,${labels[i][0]}="${escapeLabelValue(labels[i][1])}"`;
  return `${line}} ${formatValue(sample.value)}`;
}

/**
 * The key that orders sample lines whose first label has `value`, whatever follows: `a < b` exactly when every
 * line starting with label value `a` sorts before every line starting with `b` (of the same name and label).
 * The closing quote is part of the key because no escaped value contains a bare quote, so no key is a prefix of
 * another.
 */
export function labelSortKey(value: string): string {
  return escapeLabelValue(value) + '"';
}

/**
 * Characters of sample lines gathered into one piece: few enough that the lines are collected while young
 * (a scrape cache encodes pieces into larger buffers to compress).
 */
const PIECE_CHARS = 16 * 1024;

/**
 * The lines of `samples` of family `name`, sorted, each ending in a newline: what the formatters write for a group
 * (see `MetricFamily.groups`), for a family that keeps its groups' lines (`MetricFamily.blocks`).
 */
export function formatSampleGroup(name: string, samples: readonly Sample[]): string {
  if (samples.length === 0) return "";
  const lines = sortedLines(name, samples);
  // Joined with an empty last line rather than concatenated: `join` makes one flat string, where `+` makes a tree
  // of the pieces that a kept string would hold on to.
  lines.push("");
  return lines.join("\n");
}

function sortedLines(name: string, samples: readonly Sample[]): string[] {
  const lines = new Array<string>(samples.length);
  for (let i = 0; i < samples.length; i++) lines[i] = sampleLine(name, samples[i]);
  // Sorting whole lines orders samples by their label values, which makes the output deterministic.
  if (lines.length > 1) lines.sort();
  return lines;
}

/** The family's sample lines, sorted, each ending in a newline, in pieces of about `PIECE_CHARS` at most. */
function sampleBlocks(family: MetricFamily): Generator<string> {
  // Kept lines end in their newlines already; lines formatted here get theirs when joined.
  return family.blocks ? joinedPieces(family.blocks(), "") : joinedPieces(sampleLines(family), "\n");
}

/** Each group's lines (or, without groups, all samples' lines), sorted, without newlines. */
function* sampleLines(family: MetricFamily): Generator<string> {
  for (const group of family.groups?.() ?? [family.samples]) yield* sortedLines(family.name, group);
}

/** `texts`, each followed by `separator`, joined into pieces of about `PIECE_CHARS` at most. */
function* joinedPieces(texts: Iterable<string>, separator: string): Generator<string> {
  let piece: string[] = [];
  let chars = 0;
  for (const text of texts) {
    piece.push(text);
    chars += text.length + separator.length;
    if (chars >= PIECE_CHARS) {
      yield piece.join(separator) + separator;
      piece = [];
      chars = 0;
    }
  }
  if (piece.length > 0) yield piece.join(separator) + separator;
}

/** The families sorted by name, the order both formats write them in. */
export function byName(families: readonly MetricFamily[]): MetricFamily[] {
  return [...families].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Formats families in the Prometheus text format 0.0.4: HELP, TYPE, then samples, families sorted by name.
 * An empty family still gets its HELP and TYPE lines. Returns "" for no families.
 * @example formatText([{ name: "up", help: "Up.", type: "gauge", samples: [{ labels: [], value: 1 }] }])
 * // "# HELP up Up.\n# TYPE up gauge\nup 1\n"
 */
export function formatText(families: readonly MetricFamily[]): string {
  return Array.from(formatPieces(families, "text")).join("");
}

/**
 * Formats families as the body of an OpenMetrics 1.0 exposition, without the closing `# EOF`
 * (so parts can be joined; add `OPENMETRICS_EOF` last). A counter's metadata names the family
 * without `_total`, as OpenMetrics requires, while its samples keep it.
 */
export function formatOpenMetricsBody(families: readonly MetricFamily[]): string {
  return Array.from(formatPieces(families, "openmetrics")).join("");
}

/**
 * `formatText(families)` (or, for "openmetrics", `formatOpenMetricsBody(families)`) in pieces which joined give
 * exactly that string: a family's metadata, then its sorted samples in pieces of some 16 K characters. A caller
 * that encodes or compresses piece by piece never holds a large exposition as one string, nor, for families
 * with `groups`, all their samples at once.
 */
export function* formatPieces(families: readonly MetricFamily[], format: "text" | "openmetrics"): Generator<string> {
  for (const family of byName(families)) {
    if (format === "text") {
      yield `# HELP ${family.name} ${escapeHelpText(family.help)}\n# TYPE ${family.name} ${family.type}\n`;
    } else {
      const familyName = family.type === "counter" ? family.name.replace(/_total$/, "") : family.name;
      yield `# TYPE ${familyName} ${family.type}\n# HELP ${familyName} ${escapeLabelValue(family.help)}\n`;
    }
    yield* sampleBlocks(family);
  }
}

/** The line that ends every OpenMetrics exposition. */
export const OPENMETRICS_EOF = "# EOF\n";

/** Formats a complete OpenMetrics 1.0 exposition, ending in `# EOF`. */
export function formatOpenMetrics(families: readonly MetricFamily[]): string {
  return formatOpenMetricsBody(families) + OPENMETRICS_EOF;
}
