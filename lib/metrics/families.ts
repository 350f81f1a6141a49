/**
 * Building metric families with their names checked: a family of samples held whole, or one made a group of samples
 * per container as it is formatted. Pure.
 */
import { formatSampleGroup, labelSortKey, type MetricFamily, type Sample } from "./exposition.ts";
import type { ContainerLabels } from "./labels.ts";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Builds a family after checking its metric and label names (and that a counter ends in `_total`). */
export function family(name: string, type: MetricFamily["type"], help: string, samples: Sample[]): MetricFamily {
  checkFamilyName(name, type);
  checkLabelNames(name, samples, new Set());
  return { name, type, help, samples };
}

function checkFamilyName(name: string, type: MetricFamily["type"]): void {
  if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name ${name}`);
  if (type === "counter" && !name.endsWith("_total")) throw new Error(`counter ${name} must end in _total`);
}

/** Checks the label names of `samples`, skipping those in `checked` and adding the rest. */
function checkLabelNames(name: string, samples: readonly Sample[], checked: Set<string>): void {
  // Each distinct name is checked once: a family of 10,000 containers repeats the same few names.
  for (let i = 0; i < samples.length; i++) {
    const labels = samples[i].labels;
    for (let j = 0; j < labels.length; j++) {
      const label = labels[j][0];
      if (checked.has(label)) continue;
      if (!LABEL_NAME.test(label) || label.startsWith("__")) throw new Error(`invalid label name ${label} on ${name}`);
      checked.add(label);
    }
  }
}

/**
 * A family as a row of a table (cAdvisor's `containerMetric`): name, help, type, the names of the labels its samples
 * carry after those the whole table shares, in order, and how an item's samples come from `Args`. `value` is for a
 * family with at most one sample an item (undefined: none), labelled with the shared labels alone; `samples` is for
 * any other, and labels each sample itself.
 */
export type FamilyRow<Args extends unknown[]> =
  & { name: string; help: string; type: MetricFamily["type"]; labels?: readonly string[] }
  & (
    | { value: (...args: Args) => number | undefined; samples?: never }
    | { samples: (...args: Args) => Sample[]; value?: never }
  );

/** Sorts items by their `id` as the lines of a family whose first label is `id` sort (see `labelSortKey`). */
export function sortById<T extends { readonly id: string }>(items: readonly T[]): T[] {
  const keyed = items.map((item) => ({ key: labelSortKey(item.id), item }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return keyed.map(({ item }) => item);
}

/**
 * A family with a group of samples per item, made only while it is formatted (`MetricFamily.groups`): all
 * families' samples of thousands of containers, held at once, would take much memory (see bench/RESULTS.md).
 * `sorted` must be in `sortById` order and every sample must start with its item's `id` label. `samples` makes
 * them all, for callers that want them at once. `inputs` (see `MetricFamily.inputs`) must hold everything
 * `samplesOf` reads besides what stays fixed for the life of the process. With `keep`, the family is formatted
 * from each item's lines as `keep` gives them (`MetricFamily.blocks`), and `keep` calls the function it is given
 * for the lines it does not have.
 */
export function groupedFamily<T extends { readonly id: string }>(
  name: string,
  type: MetricFamily["type"],
  help: string,
  sorted: readonly T[],
  samplesOf: (item: T) => Sample[],
  inputs?: readonly unknown[],
  keep?: (item: T, format: () => string) => string,
): MetricFamily {
  checkFamilyName(name, type);
  function* groups(checked = new Set<string>()): Generator<Sample[]> {
    for (const item of sorted) {
      const samples = samplesOf(item);
      if (samples.length === 0) continue;
      checkLabelNames(name, samples, checked);
      yield samples;
    }
  }
  const family: MetricFamily = {
    name,
    type,
    help,
    groups,
    get samples() {
      return Array.from(groups()).flat();
    },
    inputs,
  };
  if (keep) {
    family.blocks = function* () {
      const checked = new Set<string>();
      for (const item of sorted) {
        yield keep(item, () => {
          const samples = samplesOf(item);
          checkLabelNames(name, samples, checked);
          return formatSampleGroup(name, samples);
        });
      }
    };
  }
  return family;
}

/**
 * `samplesOf` with the container labels that go on every series (`ContainerLabels.series` of the item's container
 * labels) appended to each sample, but for a label the sample already has (the compose labels of
 * `start_time_seconds_container`). `samplesOf` itself when none go there.
 */
export function withSeriesLabels<T>(
  samplesOf: (item: T) => Sample[],
  labels: ContainerLabels,
  containerLabelsOf: (item: T) => Readonly<Record<string, string>>,
): (item: T) => Sample[] {
  if (!labels.onAllSeries) return samplesOf;
  return (item) => {
    const samples = samplesOf(item);
    const extra = labels.series(containerLabelsOf(item));
    if (extra.length === 0) return samples;
    return samples.map((sample) => {
      const have = sample.labels;
      const add = extra.filter(([name]) => !have.some(([existing]) => existing === name));
      return { labels: [...have, ...add], value: sample.value };
    });
  };
}
