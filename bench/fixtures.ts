/**
 * Inputs for the micro-benchmarks, built from the synthetic engine's documents so that they have the shape
 * and size of real ones: container records, the families of a registry, and a recorded event stream.
 */
import { type ContainerRecord, recordFromInspect } from "../lib/engine/registry.ts";
import type { ContainerInspect } from "../lib/docker/api.ts";
import type { MetricFamily } from "../lib/metrics/exposition.ts";
import { ExporterStats } from "../lib/engine/stats.ts";
import { containerFamilies } from "../lib/metrics/container_families.ts";
import { engineFamilies, exporterFamilies } from "../lib/metrics/exporter_families.ts";
import { ContainerLabels, labelKeyMatcher } from "../lib/metrics/labels.ts";
import type { ContainerUsage } from "../lib/resources/usage.ts";
import { eventChunk, inspectDocument, type SyntheticContainer, syntheticContainer } from "./synthetic_engine.ts";

const encoder = new TextEncoder();
/** A fixed creation time, so every run formats the same numbers. */
const CREATED_NS = 1_795_600_000_123_456_789n;

/** `n` synthetic containers, as the engine would hold them. */
export function syntheticContainers(n: number): SyntheticContainer[] {
  return Array.from({ length: n }, (_, i) => syntheticContainer(i, CREATED_NS + BigInt(i) * 1_000_000_000n));
}

/** The inspect documents of `n` synthetic containers, parsed (as the tracker receives them). */
export function inspects(n: number): ContainerInspect[] {
  return syntheticContainers(n).map((c) => JSON.parse(JSON.stringify(inspectDocument(c))));
}

/** The registry records of `n` synthetic containers. */
export function records(n: number): ContainerRecord[] {
  return inspects(n).map((inspect) => recordFromInspect(inspect));
}

/** The engine the micro-benchmarks' families describe. */
export const BENCH_ENGINE = {
  version: "20.10.24",
  apiVersion: "1.41",
  os: "linux",
  kernelVersion: "6.1.0",
  hostname: "bench",
  cpus: 8,
  memoryBytes: 33_554_432_000,
};

/** What a scrape of `n` containers formats: container and engine families (the cached part) and the live part. */
export function scrapeFamilies(n: number): { stable: MetricFamily[]; live: MetricFamily[] } {
  const stats = new ExporterStats();
  stats.engine = BENCH_ENGINE;
  for (const action of ["create", "start", "die", "stop", "destroy"]) stats.eventsByAction.set(action, 1234);
  stats.lastEventMs = 1_795_600_000_000;
  stats.lastRefreshDurationMs = 420;
  stats.engineUp = true;
  const stable = [
    ...containerFamilies(records(n), new ContainerLabels(labelKeyMatcher([]))),
    ...engineFamilies(stats.engine),
  ];
  const live = exporterFamilies(stats, n, { version: "bench", denoVersion: Deno.version.deno }, {
    residentMemoryBytes: 50_000_000,
    cpuSeconds: 1.5,
    startTimeSeconds: 1_795_600_000,
    openFds: 12,
    maxFds: 1024,
  });
  return { stable, live };
}

/**
 * A resource reading for each of `containers`, shaped like one from the cgroup v1 files of a container without a
 * network (`--network none`): CPU, memory with its memory.stat figures, block I/O on one device (with its six v1
 * operations), tasks and processes. `round` changes every value.
 */
export function usages(containers: readonly ContainerRecord[], round = 0): Map<string, ContainerUsage> {
  return new Map(containers.map((c, i) => {
    const k = i + 1 + round * 1_000;
    const usage: ContainerUsage = {
      cpu: { totalSeconds: k * 1.234567, userSeconds: k * 0.81, systemSeconds: k * 0.42 },
      memory: {
        usageBytes: 4_194_304 + k * 4_096,
        workingSetBytes: 3_145_728 + k * 4_096,
        rssBytes: 1_048_576 + k,
        cacheBytes: 2_097_152 + k,
        failcnt: 0,
        oomKills: 0,
        maxUsageBytes: 8_388_608 + k * 4_096,
        kernelBytes: 262_144 + k,
        swapBytes: 0,
        mappedFileBytes: k * 4_096,
        activeFileBytes: 1_048_576 + k,
        inactiveFileBytes: 1_048_576 + k * 2,
        dirtyBytes: 0,
        writebackBytes: 0,
        pageFaults: 1_000 + k,
        majorPageFaults: k % 3,
        refaultsFile: 0,
        refaultsAnon: 0,
      },
      network: [],
      blockIo: [{
        device: "/dev/sda",
        major: 8,
        minor: 0,
        readBytes: k * 4_096,
        writeBytes: k * 512,
        reads: k,
        writes: k * 3,
        bytesByOperation: {
          Read: k * 4_096,
          Write: k * 512,
          Sync: k * 4_608,
          Async: 0,
          Discard: 0,
          Total: k * 4_608,
        },
      }],
      tasks: 1 + (k % 7),
      tasksLimit: 0,
      processes: { count: 1 + (k % 3), fds: 4 + (k % 20), sockets: k % 4, maxOpenFiles: 1_048_576 },
    };
    return [c.id, usage];
  }));
}

/**
 * The `/events` body (chunked, as dockerd sends it) of a burst of `docker restart`s: kill, die, stop, start
 * and restart for each of `containers` containers, so `5 * containers` events.
 */
export function restartBurstStream(containers: number): Uint8Array {
  let text = "";
  for (const c of syntheticContainers(containers)) {
    const t = CREATED_NS + 3_600_000_000_000n;
    text += eventChunk(c, "kill", t, { signal: "15" }) + eventChunk(c, "die", t, { exitCode: "137" }) +
      eventChunk(c, "stop", t) + eventChunk(c, "start", t + 1000n) + eventChunk(c, "restart", t + 1000n);
  }
  return encoder.encode(text);
}

/** Splits `bytes` into pieces of `size` bytes, as socket reads deliver them. */
export function pieces(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}
