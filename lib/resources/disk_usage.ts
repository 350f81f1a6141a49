/**
 * Asks the engine for disk usage (`GET /system/df`) in the background, on a slow interval of its own, and keeps the
 * last answer, summed up for the families. The engine works the answer out by walking every writable layer and
 * volume, which takes minutes on a large host: nothing here runs when a scrape renders, and a collection that fails
 * leaves the last good reading in place.
 */
import type { DiskUsage, VolumeUsage } from "../docker/mod.ts";
import type { Logger } from "../shared/mod.ts";
import { collectEvery } from "./schedule.ts";

/** Images of one kind (dangling or not): how many, and the sum of their sizes. */
export interface ImageTotals {
  count: number;
  /** The sum of the images' `Size`: a layer two images share is counted in both. */
  bytes: number;
}

/** The last disk usage answer, summed up for the families. */
export interface DiskUsageReading {
  /** Each container's writable layer, in bytes, by id. */
  writableLayers: ReadonlyMap<string, number>;
  images: { dangling: ImageTotals; tagged: ImageTotals };
  /** Sorted by name. */
  volumes: readonly VolumeUsage[];
  /** Undefined when the engine has no builder. */
  buildCacheBytes: number | undefined;
}

/** Sums up an answer. */
export function readingOf(usage: DiskUsage): DiskUsageReading {
  const images = { dangling: { count: 0, bytes: 0 }, tagged: { count: 0, bytes: 0 } };
  for (const image of usage.images) {
    const totals = image.dangling ? images.dangling : images.tagged;
    totals.count++;
    totals.bytes += image.sizeBytes;
  }
  return {
    writableLayers: new Map(usage.containers.map((c) => [c.id, c.sizeRwBytes])),
    images,
    volumes: [...usage.volumes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    buildCacheBytes: usage.buildCacheBytes,
  };
}

/** What a disk usage collector needs. */
export interface DiskUsageCollectorOptions {
  /** `GET /system/df`, with its own timeout (`DockerApi.diskUsage`). */
  diskUsage: () => Promise<DiskUsage>;
  /** From the start of one collection to the start of the next. */
  intervalMs: number;
  /** Told of each failed collection (the exporter counts it under the `df` operation). */
  onError: (error: unknown) => void;
  logger: Logger;
  now: () => number;
  /** The first collection waits until this is true (the first sync with the engine, which pins the API version). */
  ready?: () => boolean;
}

/**
 * Collects disk usage in the background. `reading` and `generation` change together, once per successful
 * collection.
 */
export class DiskUsageCollector {
  readonly #options: DiskUsageCollectorOptions;
  #reading: DiskUsageReading | undefined;
  #generation = 0;
  #failing = false;
  /** How long the last successful collection took. */
  lastDurationMs: number | undefined;

  constructor(options: DiskUsageCollectorOptions) {
    this.#options = options;
  }

  /** Increases once per successful collection, so renderers can cache by it. */
  get generation(): number {
    return this.#generation;
  }

  /** The last successful collection; undefined before the first. */
  get reading(): DiskUsageReading | undefined {
    return this.#reading;
  }

  /** Collects until `signal` aborts: once `ready`, every `intervalMs` from start to start, never two at once. */
  run(signal: AbortSignal): Promise<void> {
    return collectEvery({
      signal,
      ready: this.#options.ready,
      intervalMs: () => this.#options.intervalMs,
      now: this.#options.now,
      collect: () => this.collect(signal),
    });
  }

  /** One collection. Never throws: a failure is reported to `onError`, logged once until one succeeds again. */
  async collect(signal?: AbortSignal): Promise<void> {
    const { logger, now } = this.#options;
    const started = now();
    let usage: DiskUsage;
    try {
      usage = await this.#options.diskUsage();
    } catch (error) {
      if (signal?.aborted) return;
      this.#options.onError(error);
      if (!this.#failing) logger.warn("cannot collect disk usage; keeping the last reading", { error });
      this.#failing = true;
      return;
    }
    if (signal?.aborted) return;
    this.#reading = readingOf(usage);
    this.lastDurationMs = now() - started;
    this.#generation++;
    if (this.#failing) logger.info("collecting disk usage again");
    this.#failing = false;
  }
}
