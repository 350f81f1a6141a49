/** Reads the exporter process's own resource use for the standard `process_*` metrics. */
import { cpuUsage } from "node:process";

/** One reading of the process. `openFds`/`maxFds` are `undefined` where Deno's permissions hide `/proc/self`. */
export interface ProcessSample {
  residentMemoryBytes: number;
  cpuSeconds: number;
  startTimeSeconds: number;
  openFds: number | undefined;
  maxFds: number | undefined;
}

/**
 * How long a reading is reused. Reading (Deno's memory and CPU calls) costs about as much as the rest of a scrape
 * (see bench/RESULTS.md); scrapes that come together (several Prometheus servers, or a burst) share one reading.
 */
const PROCESS_SAMPLE_MAX_AGE_MS = 100;

/**
 * Returns a reader of the current process, which reads it again once its last reading is `maxAgeMs` old.
 * Deno 2 lets a program read `/proc/self` only with `--allow-all`; the exporter runs without it, so the fd
 * counts are tried once and then left out (`fds: false` leaves them out from the start, as a benchmark
 * running with `--allow-all` does to read itself as the exporter does).
 */
export function createProcessReader(
  options: { maxAgeMs?: number; now?: () => number; fds?: boolean } = {},
): () => ProcessSample {
  const maxAgeMs = options.maxAgeMs ?? PROCESS_SAMPLE_MAX_AGE_MS;
  const now = options.now ?? (() => performance.now());
  const read = createUncachedReader(options.fds ?? true);
  let last: { sample: ProcessSample; atMs: number } | undefined;
  return () => {
    const atMs = now();
    if (last === undefined || atMs - last.atMs >= maxAgeMs) last = { sample: read(), atMs };
    return last.sample;
  };
}

function createUncachedReader(fds: boolean): () => ProcessSample {
  let fdsReadable = fds;
  return () => {
    const cpu = cpuUsage();
    let openFds: number | undefined;
    let maxFds: number | undefined;
    if (fdsReadable) {
      try {
        openFds = Array.from(Deno.readDirSync("/proc/self/fd")).length;
        const limit = /^Max open files\s+(\d+)/m.exec(Deno.readTextFileSync("/proc/self/limits"));
        maxFds = limit ? Number(limit[1]) : undefined;
      } catch {
        fdsReadable = false;
      }
    }
    return {
      residentMemoryBytes: Deno.memoryUsage().rss,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      startTimeSeconds: performance.timeOrigin / 1000,
      openFds,
      maxFds,
    };
  };
}
