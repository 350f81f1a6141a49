import assert from "node:assert/strict";
import { type ContainerRecord, ContainerRegistry } from "../../../lib/engine/registry.ts";
import { countEvent, type EventCounts, NO_EVENTS } from "../../../lib/engine/event_counts.ts";
import { formatText, type MetricFamily, type Sample } from "../../../lib/metrics/exposition.ts";
import { ExporterStats } from "../../../lib/engine/stats.ts";
import {
  composeLabel,
  ContainerLabels,
  exportedLabel,
  labelKeyMatcher,
  sanitizeLabelName,
} from "../../../lib/metrics/labels.ts";
import { CONTAINER_METRICS, containerFamilies, ContainerLines } from "../../../lib/metrics/container_families.ts";
import { engineFamilies, exporterFamilies } from "../../../lib/metrics/exporter_families.ts";
import { dataRootFamilies, diskUsageFamilies } from "../../../lib/metrics/disk_usage_families.ts";
import type { DiskUsageReading } from "../../../lib/resources/disk_usage.ts";
import type { ProcessSample } from "../../../lib/metrics/process.ts";
import { containerRecord } from "../../support/records.ts";
import { assertGolden, HAVE_PROMTOOL, promtoolCheckMetrics, testdata } from "../../support/golden.ts";

function record(id: string, changes: Partial<ContainerRecord> = {}): ContainerRecord {
  return containerRecord(id, { ...changes });
}

const COMPOSE = "com.docker.compose";

/** Event counts: `NO_EVENTS` with `changes`, whose exits and health transitions add to its zeros. */
function counted(
  changes: Partial<Omit<EventCounts, "exits" | "healthTransitions">> & {
    exits?: Partial<EventCounts["exits"]>;
    healthTransitions?: Partial<EventCounts["healthTransitions"]>;
  },
): EventCounts {
  return {
    ...NO_EVENTS,
    ...changes,
    exits: { ...NO_EVENTS.exits, ...changes.exits },
    healthTransitions: { ...NO_EVENTS.healthTransitions, ...changes.healthTransitions },
  };
}

/** No container label selected. */
const NONE = new ContainerLabels(() => false);

/** The container labels `globs` select, on docker_container_info only. */
const selected = (globs: string[]) => new ContainerLabels(labelKeyMatcher(globs));

/** The containers behind tests/testdata/scrape.prom: one of each kind a scrape must render. */
const RECORDS: ContainerRecord[] = [
  record("c0ffee01", {
    name: "shop-web-1",
    image: "nginx:1.27",
    // The labels Docker Compose (v1 and v2) really sets; note the dashes and dots in four of the keys.
    labels: {
      [`${COMPOSE}.config-hash`]: "2f1e0d",
      [`${COMPOSE}.container-number`]: "1",
      [`${COMPOSE}.depends_on`]: "db:service_started:false",
      [`${COMPOSE}.image`]: "sha256:1234",
      [`${COMPOSE}.oneoff`]: "False",
      [`${COMPOSE}.project`]: "shop",
      [`${COMPOSE}.project.config_files`]: "/srv/shop/compose.yaml",
      [`${COMPOSE}.project.working_dir`]: "/srv/shop",
      [`${COMPOSE}.service`]: "web",
      [`${COMPOSE}.version`]: "2.29.7",
      "com.example.team": "storefront",
      "unselected.label": "not copied",
    },
    health: "healthy",
    events: counted({
      starts: 2,
      exits: { stopped: 1 },
      healthTransitions: { healthy: 2, starting: 1 },
      health: "healthy",
    }),
  }),
  record("c0ffee02", {
    name: "nightly-job",
    state: "exited",
    startedSeconds: 1_795_600_100.5,
    finishedSeconds: 1_795_600_160.75,
    exitCode: 2,
    events: counted({ starts: 3, exits: { completed: 2, error: 1 } }),
  }),
  record("c0ffee03", { name: "paused-worker", state: "paused", labels: { team: "batch" } }),
  record("c0ffee04", {
    name: "flaky-api",
    health: "unhealthy",
    failingStreak: 4,
    restartCount: 3,
    oomKilled: true,
    events: counted({
      starts: 4,
      exits: { error: 2, oom: 1 },
      healthTransitions: { healthy: 1, unhealthy: 2, starting: 1 },
      health: "unhealthy",
    }),
  }),
  record("c0ffee05", {
    name: "odd-labels",
    state: "created",
    startedSeconds: undefined,
    labels: { "com.example.note": 'say "hi"\\path\nline two' },
  }),
  record("c0ffee06", {
    name: "crashloop",
    state: "restarting",
    restartCount: 12,
    exitCode: 1,
    events: counted({ starts: 13, exits: { error: 12 } }),
  }),
];

const ENGINE = {
  version: "20.10.24+dfsg1",
  apiVersion: "1.41",
  os: "linux",
  kernelVersion: "6.1.0-28-amd64",
  hostname: "docker-host-1",
  cpus: 8,
  memoryBytes: 33_554_432_000,
};

function fixedStats(): ExporterStats {
  const stats = new ExporterStats();
  stats.eventsByAction.set("start", 6).set("die", 2).set("health_status", 5);
  stats.apiErrorsByOperation.set("inspect", 1).set("events", 2);
  stats.eventDecodeErrors = 1;
  stats.eventStreamReconnects = 2;
  stats.lastEventMs = 1_795_600_170_123;
  stats.lastRefreshDurationMs = 12.5;
  stats.engineUp = true;
  stats.synced = true;
  stats.engine = ENGINE;
  return stats;
}

const PROCESS: ProcessSample = {
  residentMemoryBytes: 52_428_800,
  cpuSeconds: 1.25,
  startTimeSeconds: 1_795_599_990.5,
  openFds: 12,
  maxFds: 1_048_576,
};

const BUILD = { version: "0.1.0", denoVersion: "2.9.6" };

/** A disk usage reading for the records above (one of them created since, so without a size), and one of a gone one. */
const DISK_USAGE: DiskUsageReading = {
  writableLayers: new Map([
    [RECORDS[0].id, 3_145_728],
    [RECORDS[1].id, 0],
    [RECORDS[2].id, 12_288],
    [RECORDS[3].id, 1_024],
    [RECORDS[4].id, 0],
    ["f00dfeed".padEnd(64, "0"), 999],
  ]),
  images: { dangling: { count: 2, bytes: 231_555_317 }, tagged: { count: 5, bytes: 412_733_952 } },
  volumes: [
    { name: "nfs-share", sizeBytes: undefined, containers: undefined },
    { name: "shop_db-data", sizeBytes: 104_857_600, containers: 1 },
    { name: "unused", sizeBytes: 4_096, containers: 0 },
  ],
  buildCacheBytes: 73_400_320,
};

function wholeScrape(): string {
  const stats = fixedStats();
  return formatText([
    ...containerFamilies(RECORDS, selected(["com.example.*", "team"])),
    ...engineFamilies(stats.engine),
    ...diskUsageFamilies(RECORDS, DISK_USAGE, 1_532.25, "/dev/vda"),
    ...dataRootFamilies(RECORDS, {
      device: "/dev/vda",
      sizeBytes: 270_553_174_016,
      inodes: 16_777_216,
      inodesFree: 16_342_160,
    }),
    ...exporterFamilies(stats, RECORDS.length, BUILD, PROCESS),
  ]);
}

function familyNamed(families: readonly MetricFamily[], name: string): MetricFamily {
  const family = families.find((f) => f.name === name);
  assert.ok(family, `no family ${name}`);
  return family;
}

function labelsOf(sample: Sample): Record<string, string> {
  return Object.fromEntries(sample.labels);
}

Deno.test("a whole scrape matches tests/testdata/scrape.prom", async () => {
  await assertGolden("scrape.prom", wholeScrape());
});

Deno.test({
  name: "promtool check metrics accepts tests/testdata/scrape.prom without a word",
  ignore: !HAVE_PROMTOOL,
  async fn() {
    const { code, output } = await promtoolCheckMetrics(await Deno.readTextFile(testdata("scrape.prom")));
    assert.equal(output, "");
    assert.equal(code, 0);
  },
});

Deno.test("containerFamilies() writes start_time_seconds_container only for running, paused and restarting", () => {
  const families = containerFamilies(RECORDS, NONE);
  const compat = familyNamed(families, "start_time_seconds_container");
  assert.deepEqual(
    compat.samples.map((sample) => labelsOf(sample).name).sort(),
    ["crashloop", "flaky-api", "paused-worker", "shop-web-1"],
  );
  // A running container that somehow lacks a start time gets no series rather than a wrong one.
  const noStart = containerFamilies([record("x", { startedSeconds: undefined })], NONE);
  assert.deepEqual(familyNamed(noStart, "start_time_seconds_container").samples, []);
});

// Compose writes `config-hash`, `container-number`, `project.config_files` and `project.working_dir`; looking up
// `config_hash`, `container_number`, `project_config_files` and `project_working_dir` finds nothing, so those four
// labels would always be empty on a real Compose container.
Deno.test("containerFamilies() puts all ten compose labels on start_time_seconds_container, empty when missing", () => {
  const [withCompose] = familyNamed(containerFamilies([RECORDS[0]], NONE), "start_time_seconds_container")
    .samples;
  const [without] = familyNamed(containerFamilies([record("bare", {})], NONE), "start_time_seconds_container")
    .samples;
  const names = [
    "id",
    "name",
    "image",
    "container_label_com_docker_compose_config_hash",
    "container_label_com_docker_compose_container_number",
    "container_label_com_docker_compose_depends_on",
    "container_label_com_docker_compose_image",
    "container_label_com_docker_compose_oneoff",
    "container_label_com_docker_compose_project",
    "container_label_com_docker_compose_project_config_files",
    "container_label_com_docker_compose_project_working_dir",
    "container_label_com_docker_compose_service",
    "container_label_com_docker_compose_version",
  ];
  assert.deepEqual(withCompose.labels.map(([name]) => name), names);
  assert.deepEqual(without.labels.map(([name]) => name), names);
  assert.deepEqual(without.labels.slice(3).map(([, value]) => value), Array(10).fill(""));
  assert.deepEqual(labelsOf(withCompose), {
    id: "c0ffee01",
    name: "shop-web-1",
    image: "nginx:1.27",
    container_label_com_docker_compose_config_hash: "2f1e0d",
    container_label_com_docker_compose_container_number: "1",
    container_label_com_docker_compose_depends_on: "db:service_started:false",
    container_label_com_docker_compose_image: "sha256:1234",
    container_label_com_docker_compose_oneoff: "False",
    container_label_com_docker_compose_project: "shop",
    container_label_com_docker_compose_project_config_files: "/srv/shop/compose.yaml",
    container_label_com_docker_compose_project_working_dir: "/srv/shop",
    container_label_com_docker_compose_service: "web",
    container_label_com_docker_compose_version: "2.29.7",
  });
  assert.equal(withCompose.value, 1_795_600_001.25);
});

// podman-compose (1.2.0, podman_compose.py) writes its config hash and version only as io.podman.compose.*, the
// project and service under both names, and no depends_on, image or oneoff.
Deno.test("containerFamilies() fills compose labels from podman-compose's io.podman.compose.* where Compose's are missing", () => {
  const podmanCompose = record("p0dc0de1", {
    name: "shop_web_1",
    labels: {
      "io.podman.compose.config-hash": "9d1c",
      "io.podman.compose.project": "shop",
      "io.podman.compose.version": "1.2.0",
      "PODMAN_SYSTEMD_UNIT": "podman-compose@shop.service",
      [`${COMPOSE}.project`]: "shop",
      [`${COMPOSE}.project.working_dir`]: "/srv/shop",
      [`${COMPOSE}.project.config_files`]: "compose.yaml",
      [`${COMPOSE}.container-number`]: "1",
      [`${COMPOSE}.service`]: "web",
    },
  });
  const families = containerFamilies([podmanCompose], NONE);
  assert.deepEqual(labelsOf(familyNamed(families, "start_time_seconds_container").samples[0]), {
    id: "p0dc0de1",
    name: "shop_web_1",
    image: "busybox:1.36",
    container_label_com_docker_compose_config_hash: "9d1c",
    container_label_com_docker_compose_container_number: "1",
    container_label_com_docker_compose_depends_on: "",
    container_label_com_docker_compose_image: "",
    container_label_com_docker_compose_oneoff: "",
    container_label_com_docker_compose_project: "shop",
    container_label_com_docker_compose_project_config_files: "compose.yaml",
    container_label_com_docker_compose_project_working_dir: "/srv/shop",
    container_label_com_docker_compose_service: "web",
    container_label_com_docker_compose_version: "1.2.0",
  });
  // A container labelled with the io.podman.compose names only.
  const onlyPodman = record("p0dc0de2", {
    labels: { "io.podman.compose.project": "shop", "io.podman.compose.service": "db" },
  });
  const info = familyNamed(containerFamilies([onlyPodman], NONE), "docker_container_info").samples[0];
  assert.deepEqual([labelsOf(info).compose_project, labelsOf(info).compose_service], ["shop", "db"]);
});

Deno.test("exportedLabel() accepts the Compose labels, their podman-compose twins and the selected labels only", () => {
  const exported = exportedLabel(labelKeyMatcher(["com.example.*"]));
  for (const suffix of ["config-hash", "project", "service", "project.working_dir", "version"]) {
    assert.ok(exported(`${COMPOSE}.${suffix}`), suffix);
    assert.ok(exported(`io.podman.compose.${suffix}`), `podman ${suffix}`);
  }
  assert.ok(exported("com.example.team"));
  assert.ok(!exported("unselected.label"));
  assert.ok(!exported("PODMAN_SYSTEMD_UNIT"));
  assert.ok(!exported(`${COMPOSE}.unknown`));
  assert.ok(!exportedLabel(() => false)("com.example.team"));
});

Deno.test("containerFamilies() writes the same text from records that keep only the labels exportedLabel() accepts", () => {
  const podman = record("p0dc0de1", {
    labels: {
      "io.podman.compose.config-hash": "9d1c",
      "io.podman.compose.project": "shop",
      "io.podman.compose.service": "db",
      "io.podman.compose.version": "1.2.0",
      "PODMAN_SYSTEMD_UNIT": "podman-compose@shop.service",
    },
  });
  for (const globs of [[], ["com.example.*", "team"], ["*"]]) {
    const matches = labelKeyMatcher(globs);
    const exported = exportedLabel(matches);
    const labels = new ContainerLabels(matches);
    const all = [...RECORDS, podman];
    const kept = all.map((r) => ({
      ...r,
      labels: Object.fromEntries(Object.entries(r.labels).filter(([key]) => exported(key))),
    }));
    assert.equal(formatText(containerFamilies(kept, labels)), formatText(containerFamilies(all, labels)), `${globs}`);
  }
});

Deno.test("composeLabel() prefers Docker Compose's label, even an empty one, over podman-compose's", () => {
  const key = `${COMPOSE}.project`;
  assert.equal(composeLabel({ [key]: "docker", "io.podman.compose.project": "podman" }, key), "docker");
  assert.equal(composeLabel({ [key]: "", "io.podman.compose.project": "podman" }, key), "");
  assert.equal(composeLabel({ "io.podman.compose.project": "podman" }, key), "podman");
  assert.equal(composeLabel({ "io.podman.compose.version": "1.2.0" }, key), "");
  assert.equal(composeLabel({}, key), "");
});

Deno.test("containerFamilies() copies only the container labels the globs select onto docker_container_info", () => {
  const families = containerFamilies(RECORDS, selected(["com.example.*"]));
  const info = familyNamed(families, "docker_container_info").samples.map(labelsOf);
  assert.deepEqual(info.find((labels) => labels.name === "shop-web-1"), {
    id: "c0ffee01",
    name: "shop-web-1",
    image: "nginx:1.27",
    image_id: "sha256:" + "ab".repeat(32),
    compose_project: "shop",
    compose_service: "web",
    container_label_com_example_team: "storefront",
  });
  assert.deepEqual(info.find((labels) => labels.name === "paused-worker"), {
    id: "c0ffee03",
    name: "paused-worker",
    image: "busybox:1.36",
    image_id: "sha256:" + "ab".repeat(32),
    compose_project: "",
    compose_service: "",
  });
  const none = familyNamed(containerFamilies(RECORDS, selected([])), "docker_container_info");
  assert.ok(none.samples.every((sample) => sample.labels.length === 6));
});

Deno.test("containerFamilies() lets the alphabetically first key win when selected keys sanitize alike", () => {
  const labels = { "a_b": "underscore", "a.b": "dot", "a-b": "dash", "a/b": "slash" };
  for (const order of [labels, Object.fromEntries(Object.entries(labels).reverse())]) {
    const families = containerFamilies([record("x", { labels: order })], selected(["a?b"]));
    const [sample] = familyNamed(families, "docker_container_info").samples;
    const extra = sample.labels.filter(([name]) => name.startsWith("container_label_"));
    // "a-b" < "a.b" < "a/b" < "a_b" in code-unit order.
    assert.deepEqual(extra, [["container_label_a_b", "dash"]]);
  }
});

Deno.test("containerFamilies() writes one state series per state and one health series per health", () => {
  const families = containerFamilies([RECORDS[3]], NONE);
  assert.deepEqual(
    familyNamed(families, "docker_container_state").samples.map((s) => [labelsOf(s).state, s.value]),
    [["created", 0], ["running", 1], ["paused", 0], ["restarting", 0], ["removing", 0], ["exited", 0], ["dead", 0]],
  );
  assert.deepEqual(
    familyNamed(families, "docker_container_health_status").samples.map((s) => [labelsOf(s).status, s.value]),
    [["healthy", 0], ["unhealthy", 1], ["starting", 0], ["none", 0]],
  );
  assert.deepEqual(familyNamed(families, "docker_container_health_failing_streak").samples, [{
    labels: [["id", "c0ffee04"], ["name", "flaky-api"]],
    value: 4,
  }]);
  const noHealth = containerFamilies([record("x", {})], NONE);
  assert.deepEqual(familyNamed(noHealth, "docker_container_health_failing_streak").samples, []);
});

Deno.test("containerFamilies() labels every sample id, name, then the labels its CONTAINER_METRICS row names", () => {
  const families = containerFamilies(RECORDS, selected(["com.example.*", "team"]));
  assert.deepEqual(families.map((f) => f.name), CONTAINER_METRICS.map((metric) => metric.name));
  for (const [i, metric] of CONTAINER_METRICS.entries()) {
    const declared = ["id", "name", ...(metric.labels ?? [])];
    assert.ok(families[i].samples.length > 0, `${metric.name}: no sample to check`);
    for (const sample of families[i].samples) {
      const names = sample.labels.map(([name]) => name);
      assert.deepEqual(names.slice(0, declared.length), declared, metric.name);
      // Only docker_container_info carries more: the selected container labels.
      const more = metric.name === "docker_container_info" ? names.slice(declared.length) : [];
      assert.deepEqual(names, [...declared, ...more], metric.name);
      assert.ok(more.every((name) => name.startsWith("container_label_")), metric.name);
    }
  }
});

Deno.test("engineFamilies() is empty until the engine was reached", () => {
  const families = engineFamilies(undefined);
  assert.deepEqual(families.map((f) => [f.name, f.samples.length]), [
    ["server_hostname", 0],
    ["docker_engine_info", 0],
    ["machine_cpu_cores", 0],
    ["machine_memory_bytes", 0],
  ]);
  // An engine whose /info has no NCPU or MemTotal: no machine series rather than zeros.
  const { cpus: _, memoryBytes: __, ...withoutMachine } = ENGINE;
  assert.deepEqual(engineFamilies(withoutMachine).map((f) => [f.name, f.samples.length]), [
    ["server_hostname", 1],
    ["docker_engine_info", 1],
    ["machine_cpu_cores", 0],
    ["machine_memory_bytes", 0],
  ]);
});

Deno.test("exporterFamilies() leaves out fd counts it could not read", () => {
  const families = exporterFamilies(fixedStats(), 0, BUILD, { ...PROCESS, openFds: undefined, maxFds: undefined });
  const names = families.map((f) => f.name);
  assert.ok(!names.includes("process_open_fds"));
  assert.ok(!names.includes("process_max_fds"));
  assert.ok(names.includes("process_resident_memory_bytes"));
});

Deno.test("sanitizeLabelName() replaces what a label name cannot hold and guards a leading digit", () => {
  const table: Array<[string, string]> = [
    ["com.docker.compose.project", "com_docker_compose_project"],
    ["org/app-name", "org_app_name"],
    ["héllo", "h_llo"],
    ["1st", "_1st"],
    ["ok_Name9", "ok_Name9"],
  ];
  for (const [key, name] of table) assert.equal(sanitizeLabelName(key), name, key);
});

Deno.test("labelKeyMatcher() reads * and ? as globs and everything else literally", () => {
  const matches = labelKeyMatcher(["com.example.*", "team?", "a+b"]);
  const table: Array<[string, boolean]> = [
    ["com.example.team", true],
    ["com.example.", true],
    ["com.exampleXteam", false],
    ["team1", true],
    ["team", false],
    ["team12", false],
    ["a+b", true],
    ["aab", false],
    ["xcom.example.team", false],
  ];
  for (const [key, expected] of table) assert.equal(matches(key), expected, key);
  assert.equal(labelKeyMatcher([])("anything"), false);
});

Deno.test("labelKeyMatcher() answers a glob of many * on a long key at once, where a backtracking regex hangs", async () => {
  // In a worker, so that a matcher that hangs (as the regular expression it replaced did) fails the test
  // rather than stopping it.
  const source = `import { labelKeyMatcher } from ${
    JSON.stringify(new URL("../../../lib/metrics/labels.ts", import.meta.url).href)
  };
    postMessage(labelKeyMatcher(["*a".repeat(12) + "*b"])("a".repeat(4096)));`;
  const worker = new Worker(`data:text/javascript,${encodeURIComponent(source)}`, { type: "module" });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const answer = await Promise.race([
      new Promise((resolve) => (worker.onmessage = (event) => resolve(event.data))),
      new Promise((resolve) => (timer = setTimeout(() => resolve("no answer within 10 s"), 10_000))),
    ]);
    assert.equal(answer, false);
  } finally {
    clearTimeout(timer);
    worker.terminate();
  }
});

Deno.test("containerFamilies() writes the same text as its samples held whole, whatever the ids and input order", () => {
  // Engine ids are 64 hex digits; ids that escape or prefix one another show the order holds for any.
  const ids = ["c0ffee02", "c0ffee0", "c0ffee0 1", "c0ffee01", 'c0"ffee', "c0\\ffee", "C0FFEE", "é0ffee", ""];
  const records = ids.map((id, i) => ({ ...RECORDS[i % RECORDS.length], id }));
  for (const input of [records, [...records].reverse()]) {
    const families = containerFamilies(input, selected(["*"]));
    assert.ok(families.every((family) => family.groups !== undefined), "made a container at a time");
    const held = families.map(({ name, help, type, samples }) => ({ name, help, type, samples }));
    assert.equal(formatText(families), formatText(held));
  }
});

Deno.test("containerFamilies() with ContainerLines writes the same text, formatting again only replaced records", () => {
  let matched = 0;
  const select = selected(["com.example.*", "team"]);
  const counting = new ContainerLabels((key: string) => {
    matched++;
    return select.matches(key);
  });
  const lines = new ContainerLines();
  const textOf = (records: ContainerRecord[]) => formatText(containerFamilies(records, counting, lines));
  const records = [...RECORDS];
  assert.equal(textOf(records), formatText(containerFamilies(records, select)));
  assert.ok(matched > 0);

  // The same records, in any order: every line kept, none formatted (docker_container_info matches no label).
  matched = 0;
  assert.equal(textOf([...records].reverse()), formatText(containerFamilies(records, select)));
  assert.equal(matched, 0);

  // An event replaces one record: only its lines are formatted again, and the text says what the new record says.
  matched = 0;
  records[0] = { ...records[0], state: "exited", labels: { ...records[0].labels, team: "checkout" } };
  const text = textOf(records);
  assert.equal(text, formatText(containerFamilies(records, select)));
  assert.match(text, /container_label_team="checkout"/);
  assert.equal(matched, Object.keys(records[0].labels).length);

  // Other container labels: nothing kept for the old ones is used.
  assert.equal(
    formatText(containerFamilies(records, NONE, lines)),
    formatText(containerFamilies(records, NONE)),
  );
});

Deno.test("containerFamilies() with ContainerLines shows each counted event: counting replaces the record", () => {
  const registry = new ContainerRegistry(60_000);
  registry.upsert(record("a", { name: "crash" }), 0);
  const lines = new ContainerLines();
  const select = NONE;
  const starts = () => {
    const text = formatText(containerFamilies(registry.containers(), select, lines));
    assert.equal(text, formatText(containerFamilies(registry.containers(), select)), "the kept lines are right");
    return /^docker_container_starts_total\{id="a",name="crash"\} (\d+)$/m.exec(text)?.[1];
  };
  assert.equal(starts(), "0");
  for (const count of ["1", "2"]) {
    const start = { action: "start", detail: "", id: "a", attributes: {}, timeMs: 0 };
    registry.count("a", (counts, health) => countEvent(counts, start, health), 0);
    assert.equal(starts(), count);
  }
});

Deno.test("containerFamilies() counts every exit reason from 0, and health transitions only with a health check", () => {
  const families = containerFamilies([record("plain"), record("checked", { health: "starting" })], NONE);
  const series = (name: string) =>
    familyNamed(families, name).samples.map((s) => `${labelsOf(s).id} ${labelsOf(s).reason ?? labelsOf(s).to}`);
  assert.deepEqual(familyNamed(families, "docker_container_starts_total").samples.map((s) => s.value), [0, 0]);
  assert.deepEqual(series("docker_container_exits_total"), [
    "checked completed",
    "checked error",
    "checked oom",
    "checked stopped",
    "plain completed",
    "plain error",
    "plain oom",
    "plain stopped",
  ]);
  assert.deepEqual(series("docker_container_health_transitions_total"), [
    "checked healthy",
    "checked unhealthy",
    "checked starting",
  ]);
  // A record from before its container's first check came to the record, but after the events gave it a health.
  const early = record("early", { events: counted({ health: "healthy", healthTransitions: { healthy: 1 } }) });
  const [healthy] = familyNamed(containerFamilies([early], NONE), "docker_container_health_transitions_total")
    .samples;
  assert.deepEqual([labelsOf(healthy).to, healthy.value], ["healthy", 1]);
  assert.ok(familyNamed(families, "docker_container_exits_total").samples.every((s) => s.value === 0));
});

Deno.test("ContainerLines keeps no lines for more containers than maxContainers, and drops those it kept", () => {
  let matched = 0;
  const counting = new ContainerLabels(() => {
    matched++;
    return false;
  });
  const keys = (records: ContainerRecord[]) => records.reduce((n, r) => n + Object.keys(r.labels).length, 0);
  const lines = new ContainerLines(RECORDS.length);
  formatText(containerFamilies(RECORDS, counting, lines));
  matched = 0;
  formatText(containerFamilies(RECORDS, counting, lines));
  assert.equal(matched, 0, "as many containers as it keeps lines for: every line kept");

  const more = [...RECORDS, record("extra", { labels: { team: "a" } })];
  matched = 0;
  assert.equal(formatText(containerFamilies(more, counting, lines)), formatText(containerFamilies(more, NONE)));
  assert.equal(matched, keys(more), "one more: every container's lines formatted");
  matched = 0;
  formatText(containerFamilies(RECORDS, counting, lines));
  assert.equal(matched, keys(RECORDS), "and none kept from before");
});

/** Whether two families' inputs are the same values in the same order, as the scrape cache compares them. */
function sameInputs(a: MetricFamily, b: MetricFamily): boolean {
  return a.inputs !== undefined && b.inputs !== undefined && a.inputs.length === b.inputs.length &&
    a.inputs.every((input, i) => input === b.inputs![i]);
}

Deno.test("containerFamilies() gives inputs that stay the same while the records and container labels do", () => {
  // The scrape cache keeps a family's text while its inputs are the same; a wrong "same" would serve stale lines.
  const matcher = selected(["team"]);
  const before = containerFamilies(RECORDS, matcher);
  const again = containerFamilies([...RECORDS].reverse(), matcher);
  const changed = containerFamilies(RECORDS.map((r, i) => i === 1 ? { ...r } : r), matcher);
  const fewer = containerFamilies(RECORDS.slice(1), matcher);
  const otherMatcher = containerFamilies(RECORDS, selected(["com.example.*"]));
  for (const [i, family] of before.entries()) {
    assert.ok(sameInputs(family, again[i]), `${family.name}: same records in another order`);
    assert.ok(!sameInputs(family, changed[i]), `${family.name}: one record replaced`);
    assert.ok(!sameInputs(family, fewer[i]), `${family.name}: one record fewer`);
    assert.ok(!sameInputs(family, otherMatcher[i]), `${family.name}: other container labels`);
  }
});

Deno.test("containerFamilies() puts the selected labels on every series with onAllSeries, but never twice", () => {
  const labels = new ContainerLabels(labelKeyMatcher(["com.example.*", "team", "com.docker.compose.project"]), {
    onAllSeries: true,
  });
  const families = containerFamilies(RECORDS, labels);
  const shop = (name: string) =>
    familyNamed(families, name).samples.filter((s) => labelsOf(s).id === "c0ffee01").map((s) => s.labels);
  for (const family of families) {
    for (const sample of shop(family.name)) {
      const names = sample.map(([name]) => name);
      assert.equal(new Set(names).size, names.length, `${family.name}: a label twice`);
      assert.ok(names.includes("container_label_com_example_team"), family.name);
      assert.ok(names.includes("container_label_com_docker_compose_project"), family.name);
    }
  }
  assert.deepEqual(shop("docker_container_state")[0], [
    ["id", "c0ffee01"],
    ["name", "shop-web-1"],
    ["state", "created"],
    ["container_label_com_docker_compose_project", "shop"],
    ["container_label_com_example_team", "storefront"],
  ]);
  // docker_container_info carries them as before, once.
  assert.deepEqual(
    formatText([familyNamed(families, "docker_container_info")]),
    formatText([familyNamed(containerFamilies(RECORDS, new ContainerLabels(labels.matches)), "docker_container_info")]),
  );
  // ContainerLines keeps no line made with other container labels.
  const lines = new ContainerLines();
  const plain = selected(["com.example.*", "team", "com.docker.compose.project"]);
  formatText(containerFamilies(RECORDS, plain, lines));
  assert.equal(formatText(containerFamilies(RECORDS, labels, lines)), formatText(families));
});

Deno.test("ContainerLabels puts at most maxSeriesKeys label names on the series, the first met, for good, and says so once", () => {
  const told: string[] = [];
  const labels = new ContainerLabels(() => true, {
    onAllSeries: true,
    maxSeriesKeys: 2,
    onLeftOff: (label, max) => told.push(`${label} ${max}`),
  });
  const names = (pairs: readonly (readonly [string, string])[]) => pairs.map(([name]) => name);
  assert.deepEqual(names(labels.series({ b: "1", a: "2" })), ["container_label_a", "container_label_b"]);
  // The cap is reached: c is left off every series, for good, and told once; a and b still go on.
  assert.deepEqual(names(labels.series({ a: "x", c: "3" })), ["container_label_a"]);
  assert.deepEqual(names(labels.series({ d: "4", c: "3", b: "y" })), ["container_label_b"]);
  assert.deepEqual(told, ["container_label_c 2"]);
  // docker_container_info has them all.
  assert.deepEqual(names(labels.info({ d: "4", c: "3", b: "y" })), [
    "container_label_b",
    "container_label_c",
    "container_label_d",
  ]);
  // The same labels object gives the same pairs, without matching again.
  const kept = { a: "z" };
  assert.equal(labels.series(kept), labels.series(kept));
  assert.deepEqual(new ContainerLabels(() => true).series({ a: "1" }), [], "off by default");
});
