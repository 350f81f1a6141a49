/**
 * The per-container families: state, health, times, restarts, exit codes, the counts of starts, exits and health
 * transitions, the info series and the decustom_go compatibility series, each container's lines kept while its record
 * lives. Pure: every input is an argument.
 */
import {
  CONTAINER_STATES,
  type ContainerRecord,
  EXIT_REASONS,
  HEALTH_STATES,
  HEALTH_TRANSITIONS,
} from "../engine/mod.ts";
import type { MetricFamily, Sample } from "./exposition.ts";
import { type FamilyRow, groupedFamily, sortById, withSeriesLabels } from "./families.ts";
import { COMPOSE_LABEL_KEYS, composeLabel, type ContainerLabels, sanitizeLabelName } from "./labels.ts";

/**
 * Each container's sample lines in each container family, kept for as long as its record lives. The registry
 * replaces a record rather than change it, so a record's lines stay right: after an event only the changed
 * container's lines are formatted, and a family is the kept lines joined: formatting every container's lines
 * again would be most of the time from `docker run` returning to the new series on /metrics. The lines take as
 * much memory as the families' text, so they are kept only up to `maxContainers` (see bench/RESULTS.md). The counts
 * of events are fields of the record too, so a counted event replaces the record and its lines are made again.
 */
export class ContainerLines {
  #byRecord = new WeakMap<ContainerRecord, string[]>();
  #labels: ContainerLabels | undefined;

  /**
   * `maxContainers`: the most containers whose lines are kept (default 2,000). Their memory grows with it, and for a
   * while when records are replaced, until the records they replaced are collected.
   */
  constructor(readonly maxContainers = 2_000) {}

  /**
   * Whether lines are kept for `count` containers formatted with `labels`. Over `maxContainers` it drops those it
   * kept, and so it does for another `ContainerLabels` than before: the lines depend on it too.
   */
  keepsFor(count: number, labels: ContainerLabels): boolean {
    const keeps = count <= this.maxContainers;
    if (keeps && labels === this.#labels) return true;
    // Nothing kept is of use now: too many containers, or lines made with other labels.
    this.#byRecord = new WeakMap();
    this.#labels = keeps ? labels : undefined;
    return keeps;
  }

  /** The lines of the family of row `index` of `CONTAINER_METRICS` for `record`, from `format` when not kept. */
  get(record: ContainerRecord, index: number, format: () => string): string {
    let kept = this.#byRecord.get(record);
    if (!kept) this.#byRecord.set(record, kept = []);
    return kept[index] ??= format();
  }
}

/** The compatibility series' compose labels: the key read and the label name written. */
const COMPAT_LABELS = COMPOSE_LABEL_KEYS.map((key) => [key, sanitizeLabelName(`container_label_${key}`)] as const);

/** Containers `docker ps` lists (without `-a`): the ones the compatibility series covers. */
function listedByDockerPs(record: ContainerRecord): boolean {
  return record.state === "running" || record.state === "paused" || record.state === "restarting";
}

type Label = readonly [string, string];
const idName = (c: ContainerRecord): Label[] => [["id", c.id], ["name", c.name]];

/**
 * A per-container family: a row of `CONTAINER_METRICS`. Each sample is labelled `id` and `name`, then `labels`, then
 * the container labels that go on every series (`ContainerLabels.series`). `samples` is told which container labels
 * were selected.
 */
export type ContainerMetric = FamilyRow<[c: ContainerRecord, labels: ContainerLabels]>;

/**
 * The labels and samples of a row for a family with one sample per value of enum label `label`: 1 for the
 * container's `current` value, 0 for the others.
 */
function oneOf(label: string, values: readonly string[], current: (c: ContainerRecord) => string) {
  // The label pairs are shared by every container's samples.
  const pairs = values.map((value) => [label, value] as const);
  return {
    labels: [label],
    samples: (c: ContainerRecord): Sample[] => {
      const value = current(c);
      return pairs.map((pair) => ({ labels: [...idName(c), pair], value: value === pair[1] ? 1 : 0 }));
    },
  };
}

/**
 * The labels and samples of a row for a counter with one sample per value of `label`, counted from 0: `counts` gives
 * each value's count. A container `has` rejects has none.
 */
function countsBy<V extends string>(
  label: string,
  values: readonly V[],
  counts: (c: ContainerRecord) => Readonly<Record<V, number>>,
  has: (c: ContainerRecord) => boolean = () => true,
) {
  const pairs = values.map((value) => [label, value] as const);
  return {
    labels: [label],
    samples: (c: ContainerRecord): Sample[] => {
      if (!has(c)) return [];
      const of = counts(c);
      return pairs.map((pair) => ({ labels: [...idName(c), pair], value: of[pair[1]] }));
    },
  };
}

/** A container with a health check: its record or its events show a health. */
const hasHealthCheck = (c: ContainerRecord) => c.health !== "none" || c.events.health !== undefined;

/** The per-container families, in the order `ContainerLines` indexes them. */
export const CONTAINER_METRICS: readonly ContainerMetric[] = [
  {
    name: "start_time_seconds_container",
    type: "gauge",
    help: "Start time of a running, paused or restarting container in Unix seconds (compatible with decustom_go).",
    labels: ["image", ...COMPAT_LABELS.map(([, label]) => label)],
    samples: (c) => {
      if (!listedByDockerPs(c) || c.startedSeconds === undefined) return [];
      const labels: Label[] = [...idName(c), ["image", c.image]];
      for (const [key, label] of COMPAT_LABELS) labels.push([label, composeLabel(c.labels, key)]);
      return [{ labels, value: c.startedSeconds }];
    },
  },
  {
    name: "docker_container_info",
    type: "gauge",
    help: "Always 1; labels describe the container (image, compose project and service, selected container labels).",
    // Then `container_label_<key>` for each container label `labels` selects.
    labels: ["image", "image_id", "compose_project", "compose_service"],
    samples: (c, labels) => {
      return [{
        labels: [
          ...idName(c),
          ["image", c.image],
          ["image_id", c.imageId],
          ["compose_project", composeLabel(c.labels, "com.docker.compose.project")],
          ["compose_service", composeLabel(c.labels, "com.docker.compose.service")],
          ...labels.info(c.labels),
        ],
        value: 1,
      }];
    },
  },
  {
    name: "docker_container_state",
    type: "gauge",
    help: "1 for the container's current state, 0 for the others.",
    ...oneOf("state", CONTAINER_STATES, (c) => c.state),
  },
  {
    name: "docker_container_start_time_seconds",
    type: "gauge",
    help: "When the container last started, in Unix seconds.",
    value: (c) => c.startedSeconds,
  },
  {
    name: "docker_container_finished_time_seconds",
    type: "gauge",
    help: "When the container last stopped, in Unix seconds.",
    value: (c) => c.finishedSeconds,
  },
  {
    name: "docker_container_created_seconds",
    type: "gauge",
    help: "When the container was created, in Unix seconds.",
    value: (c) => c.createdSeconds,
  },
  {
    name: "docker_container_restarts_total",
    type: "counter",
    help: "Times the engine restarted the container under its restart policy (RestartCount).",
    value: (c) => c.restartCount,
  },
  {
    name: "docker_container_starts_total",
    type: "counter",
    help: "Times the container started, by hand or by its restart policy, counted from the engine's start events.",
    value: (c) => c.events.starts,
  },
  {
    name: "docker_container_exits_total",
    type: "counter",
    help: "Times the container's main process ended, by reason: completed (code 0), error (another code), " +
      "oom (after an oom event), stopped (after a stop or kill request).",
    ...countsBy("reason", EXIT_REASONS, (c) => c.events.exits),
  },
  {
    name: "docker_container_health_transitions_total",
    type: "counter",
    help: "Times the health of a container with a health check changed, by the health it changed to.",
    ...countsBy("to", HEALTH_TRANSITIONS, (c) => c.events.healthTransitions, hasHealthCheck),
  },
  {
    name: "docker_container_exit_code",
    type: "gauge",
    help: "Exit code of the container's last run; 0 while it runs and if it never exited.",
    value: (c) => c.exitCode,
  },
  {
    name: "docker_container_oom_killed",
    type: "gauge",
    help: "1 if the container's last run was killed for lack of memory.",
    value: (c) => c.oomKilled ? 1 : 0,
  },
  {
    name: "docker_container_health_status",
    type: "gauge",
    help: "1 for the container's current health (none: no HEALTHCHECK), 0 for the others.",
    ...oneOf("status", HEALTH_STATES, (c) => c.health),
  },
  {
    name: "docker_container_health_failing_streak",
    type: "gauge",
    help:
      "Consecutive failed health checks, as of the last health status change (the engine sends no event per check).",
    value: (c) => c.health === "none" ? undefined : c.failingStreak,
  },
];

/**
 * The per-container families, one for each row of `CONTAINER_METRICS`, made a container at a time as they are
 * formatted (see `groupedFamily`), from the lines `lines` keeps when it is given and keeps lines for as many
 * containers (and into it). `labels` picks which container labels go on `docker_container_info`, and on every other
 * series when it says so (`start_time_seconds_container` skips those it already carries under the same name).
 */
export function containerFamilies(
  containers: readonly ContainerRecord[],
  labels: ContainerLabels,
  lines?: ContainerLines,
): MetricFamily[] {
  const sorted = sortById(containers);
  // Records are replaced, never changed in place, so the same records mean the same lines. The container labels are
  // an input too: they decide the container_label_ labels (and are the same object for a process's life).
  const inputs = [labels, ...sorted];
  const kept = lines?.keepsFor(sorted.length, labels) ? lines : undefined;
  return CONTAINER_METRICS.map(({ name, type, help, value, samples }, index) => {
    const own = value
      ? (c: ContainerRecord): Sample[] => {
        const v = value(c, labels);
        return v === undefined ? [] : [{ labels: idName(c), value: v }];
      }
      : (c: ContainerRecord) => samples(c, labels);
    const samplesOf = name === "docker_container_info" ? own : withSeriesLabels(own, labels, (c) => c.labels);
    const keep = kept && ((c: ContainerRecord, format: () => string) => kept.get(c, index, format));
    return groupedFamily(name, type, help, sorted, samplesOf, inputs, keep);
  });
}
