/**
 * Disk usage on the real engines, Docker and Podman, with the `start` task's permissions:
 *
 * - the families show the workload of disk_usage_workload.ts: a container that wrote 3 MiB into its writable layer,
 *   a named volume of 2 MiB used by two containers, and a dangling image (counted as the engine counts it);
 * - the data root's file system, as `stat -f` gives it on the host;
 * - through the logging proxy, `/system/df` is asked once per interval and never by a scrape; `0` turns it off.
 *
 * Every container runs with `--network none`, and every object made is removed.
 */
import assert from "node:assert/strict";
import { DockerProxy } from "../../bench/docker_proxy.ts";
import { ContainerScope, runCommand, waitFor } from "../support/docker.ts";
import { type TestEngine, testEngines } from "../support/engines.ts";
import { findSamples, type ParsedSample, sampleValue, startExporter } from "../support/exporter.ts";
import { makeDiskWorkload, VOLUME_MIB, WRITABLE_LAYER_MIB } from "../support/disk_usage_workload.ts";

const MIB = 1024 * 1024;
const engines = await testEngines("disk_usage_test.ts");

/** The samples once the first disk usage collection has ended (its duration is there). */
async function afterFirstCollection(scrape: () => Promise<ParsedSample[]>): Promise<ParsedSample[]> {
  return await waitFor(
    async () => {
      const samples = await scrape();
      return findSamples(samples, "docker_exporter_disk_usage_duration_seconds").length === 1 && samples;
    },
    60_000,
    "the first disk usage collection",
    100,
  );
}

/**
 * How many images the engine's `/system/df` lists as dangling, by the engine's own CLI: Docker's dangling images;
 * for Podman, every image without a name, since its `/system/df` lists the intermediate images of builds too.
 */
async function danglingImages(engine: TestEngine): Promise<number> {
  const lines = engine.name === "docker"
    ? await engine.cli("images", "--quiet", "--no-trunc", "--filter", "dangling=true")
    : (await engine.cli("images", "--all", "--noheading", "--format", "{{.ID}} {{.Repository}}"))
      .split("\n").filter((line) => line.endsWith(" <none>")).join("\n");
  return new Set(lines.split("\n").filter((line) => line !== "")).size;
}

for (const { engine, ignore } of engines) {
  Deno.test({
    name: `[${engine.name}] the disk usage families show a writable layer, a volume's size and users, a dangling image`,
    ignore,
    fn: async () => {
      await engine.prepare();
      const workload = await makeDiskWorkload(engine, "du");
      try {
        // Every 10 s, so that the count of dangling images can settle to the engine's while others build and prune.
        await using exporter = await startExporter({
          dockerSocket: engine.socket,
          env: { EXPORTER_DISK_USAGE_INTERVAL: "10s", EXPORTER_RESOURCE_METRICS: "off" },
        });
        const samples = await afterFirstCollection(() => exporter.samples());
        const usage = (id: string) => sampleValue(samples, "container_fs_usage_bytes", { id });
        assert.ok(usage(workload.writer.id)! >= WRITABLE_LAYER_MIB * MIB, `writer: ${usage(workload.writer.id)}`);
        assert.equal(findSamples(samples, "container_fs_usage_bytes", { id: workload.sharer.id }).length, 1);
        const [writer] = findSamples(samples, "container_fs_usage_bytes", { id: workload.writer.id });
        assert.equal(writer.labels.name, workload.writer.name);

        const volume = { volume: workload.volume };
        const volumeBytes = sampleValue(samples, "docker_volume_size_bytes", volume)!;
        assert.ok(volumeBytes >= VOLUME_MIB * MIB && volumeBytes < VOLUME_MIB * MIB + MIB, `volume: ${volumeBytes}`);
        assert.equal(sampleValue(samples, "docker_volume_containers", volume), 2);

        assert.ok(sampleValue(samples, "docker_images", { dangling: "false" })! >= 2, "the test image and the tag");
        assert.ok(sampleValue(samples, "docker_images_size_bytes", { dangling: "true" })! > 0);
        // The engine's own count of dangling images, our first build among them; others may change it meanwhile,
        // so it is compared until a collection and the engine agree.
        const dangling = (await engine.cli("images", "--all", "--quiet", "--no-trunc")).includes(
          workload.danglingImage,
        );
        assert.ok(dangling, "the first build is still there, untagged");
        const agreed = await waitFor(
          async () => {
            const [counted, expected] = [
              sampleValue(await exporter.samples(), "docker_images", { dangling: "true" }),
              await danglingImages(engine),
            ];
            return counted === expected && counted;
          },
          60_000,
          'docker_images{dangling="true"} to be the engine\'s count of dangling images',
          500,
        );
        assert.ok(agreed >= 1);
        // Podman has no build cache of its own; Docker's is whatever BuildKit keeps (nothing, unless something here
        // built with it).
        const buildCache = sampleValue(samples, "docker_build_cache_size_bytes");
        if (engine.name === "podman") assert.equal(buildCache, 0);
        else assert.ok(buildCache !== undefined && buildCache >= 0, `build cache: ${buildCache}`);
        assert.deepEqual(exporter.logs().filter((l) => l.level === "warn" || l.level === "error"), []);
        await exporter.stop();
      } finally {
        await workload.cleanup();
      }
    },
  });

  Deno.test({
    name: `[${engine.name}] each container's file system families are statfs of /info's DockerRootDir, by major:minor`,
    ignore,
    fn: async () => {
      await engine.prepare();
      await using scope = new ContainerScope("dataroot", engine);
      const { id } = await scope.create({ name: "on-the-data-root" });
      await using exporter = await startExporter({ dockerSocket: engine.socket });
      const root = engine.name === "docker"
        ? await engine.cli("info", "--format", "{{.DockerRootDir}}")
        : await engine.cli("info", "--format", "{{.Store.GraphRoot}}");
      // Deno reads /proc only under --allow-all: the start task names the device by its major:minor.
      const [device, blocks, blockSize, inodes] = (await runCommand("sh", [
        "-c",
        `stat -c '%Hd:%Ld' "$1"; stat -f -c '%b %S %c' "$1"`,
        "sh",
        root,
      ])).split(/\s+/);
      // On each container's series, as cAdvisor writes them: `container_fs_limit_bytes - container_fs_usage_bytes`
      // then matches.
      const limit = await waitFor(
        async () => findSamples(await exporter.samples(), "container_fs_limit_bytes", { id })[0],
        20_000,
        "container_fs_limit_bytes",
      );
      assert.equal(limit.labels.device, device);
      assert.equal(limit.value, Number(blocks) * Number(blockSize));
      const samples = await afterFirstCollection(() => exporter.samples());
      assert.equal(sampleValue(samples, "container_fs_inodes_total", { id, device }), Number(inodes));
      const free = sampleValue(samples, "container_fs_inodes_free", { id, device })!;
      assert.ok(free > 0 && free <= Number(inodes), `${free} of ${inodes}`);
      assert.equal(findSamples(samples, "container_fs_usage_bytes", { id })[0]?.labels.device, device);
      await exporter.stop();
    },
  });

  Deno.test({
    name: `[${engine.name}] through a logging proxy, /system/df is asked once per interval and never by a scrape`,
    ignore,
    fn: async () => {
      await engine.prepare();
      const proxy = await DockerProxy.start({ upstream: engine.socket });
      try {
        // The default interval, 5 minutes: no second collection comes during the test.
        await using exporter = await startExporter({ dockerSocket: proxy.path });
        const asked = () => proxy.requests.filter((r) => r.path.split("?")[0].endsWith("/system/df")).length;
        await afterFirstCollection(() => exporter.samples());
        assert.equal(asked(), 1);
        for (let i = 0; i < 20; i++) {
          await exporter.scrape({ openMetrics: i % 2 === 1 });
          await exporter.rawGet("/metrics", { "Accept-Encoding": "gzip" });
        }
        assert.equal(asked(), 1, "a scrape asked the engine for /system/df");
        assert.deepEqual(proxy.writeMethods(), []);
        await exporter.stop();
      } finally {
        proxy.close();
      }
    },
  });
}

Deno.test({
  name: "[docker] EXPORTER_DISK_USAGE_INTERVAL=0 asks no /system/df and serves none of its families",
  ignore: engines[0].ignore,
  fn: async () => {
    const proxy = await DockerProxy.start({ upstream: engines[0].engine.socket });
    try {
      await using exporter = await startExporter({
        dockerSocket: proxy.path,
        env: { EXPORTER_DISK_USAGE_INTERVAL: "0" },
      });
      // With a collector, these families are there from the start, without samples until it has collected.
      const text = await exporter.scrape();
      assert.ok(!/^# TYPE (docker_images|container_fs_usage_bytes|docker_exporter_disk_usage_\w+) /m.test(text), text);
      // The data root's file system does not come from /system/df, and stays.
      assert.match(text, /^# TYPE container_fs_limit_bytes gauge$/m);
      await exporter.stop();
      assert.equal(proxy.requests.filter((r) => r.path.includes("/system/df")).length, 0);
    } finally {
      proxy.close();
    }
  },
});
