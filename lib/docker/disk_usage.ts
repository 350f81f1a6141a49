/**
 * `GET /system/df`: what the engine's images, containers' writable layers, volumes and build cache take on disk,
 * streamed and reduced to the few fields the exporter reads, each checked for its type. Docker before API 1.52 and
 * Podman answer with top-level arrays (`Images`, `Containers`, `Volumes`, `BuildCache`); Docker from API 1.52 with
 * `ImageUsage.Items` and the like, listed only when asked with `verbose=1`.
 */
import { type DockerApiError, unusableAnswer } from "./errors.ts";
import type { StreamingResponse } from "./socket.ts";
import type { SocketModem } from "./modem.ts";
import { JsonPathDecoder, JsonPathError } from "./wire/mod.ts";

/** One image `/system/df` lists. */
export interface ImageUsage {
  /** No tag and no digest names it: `docker images --filter dangling=true` lists it (see `isDangling`). */
  dangling: boolean;
  /** `Size`: every layer of the image, those it shares with other images included. */
  sizeBytes: number;
}

/** One container `/system/df` lists. */
export interface ContainerDiskUsage {
  id: string;
  /** `SizeRw`: the bytes of its writable layer (files it created or changed). */
  sizeRwBytes: number;
}

/** One volume `/system/df` lists. */
export interface VolumeUsage {
  name: string;
  /** `UsageData.Size`; undefined where the engine did not compute it (-1: a driver other than `local`). */
  sizeBytes: number | undefined;
  /** `UsageData.RefCount`: the containers that use it; undefined where the engine did not count them. */
  containers: number | undefined;
}

/** `GET /system/df`, reduced to what the exporter reads. */
export interface DiskUsage {
  images: ImageUsage[];
  containers: ContainerDiskUsage[];
  volumes: VolumeUsage[];
  /**
   * The build cache's bytes, those records shared with images left out, as `docker system df` counts them; undefined
   * when the answer has no build cache at all (an engine without a builder).
   */
  buildCacheBytes: number | undefined;
}

/** The first API version whose `/system/df` lists its items under `ImageUsage.Items` and the like. */
export const ITEMS_API_VERSION = "1.52";

/** Where each kind of entry is in an answer: top-level arrays, or (from API 1.52) each kind's `Items`. */
const PATHS = {
  legacy: { images: "Images", containers: "Containers", volumes: "Volumes", buildCache: "BuildCache" },
  items: {
    images: "ImageUsage.Items",
    containers: "ContainerUsage.Items",
    volumes: "VolumeUsage.Items",
    buildCache: "BuildCacheUsage.Items",
  },
} as const;

/**
 * The most entries of one kind an answer may have: ten times a host of 10,000 images or containers. An engine or
 * proxy that never ends its answer is cut off here, or by `MAX_DISK_USAGE_BYTES`, rather than by the call's timeout.
 */
const MAX_ENTRIES = 100_000;

/**
 * The most bytes of an answer read. A container's entry is the container list's (labels, mounts, networks: 1–25 KB),
 * an image's some 0.5–2 KB: room for 10,000 of each, as the container list allows.
 */
export const MAX_DISK_USAGE_BYTES = 256 * 1024 * 1024;

/**
 * Streams `GET /system/df` through the modem (with `verbose=1` when `items`: API 1.52 and later), each entry reduced
 * as it arrives, so the answer (megabytes on a host with thousands of images and containers) is never held whole and
 * the event loop serves scrapes between its pieces.
 * @throws DockerApiError (`df`) for an answer that is not a disk usage document, too large, or with entries of the
 * wrong shape.
 */
export async function streamDiskUsage(
  modem: SocketModem,
  items: boolean,
  abortSignal: AbortSignal,
): Promise<DiskUsage> {
  const response = await modem.request({
    path: items ? "/system/df?verbose=1" : "/system/df",
    method: "GET",
    abortSignal,
    isStream: true,
    operation: "df",
    readBytes: 64 * 1024,
  }) as StreamingResponse;
  const decoder = new DiskUsageDecoder(items);
  try {
    for await (const piece of response.body) decoder.push(piece);
    return decoder.end();
  } finally {
    response.close();
  }
}

/**
 * Decodes a `/system/df` answer fed in pieces of any size: each entry is reduced and checked as soon as it is
 * complete, and nothing else of the answer is kept. Pure.
 */
export class DiskUsageDecoder {
  readonly #paths: Record<keyof typeof PATHS.legacy, string>;
  readonly #decoder: JsonPathDecoder;
  readonly #usage: DiskUsage = { images: [], containers: [], volumes: [], buildCacheBytes: undefined };
  #buildCacheBytes = 0;
  #bytes = 0;

  /** `items`: the answer of API 1.52 and later, asked with `verbose=1`. */
  constructor(items: boolean) {
    this.#paths = items ? PATHS.items : PATHS.legacy;
    this.#decoder = new JsonPathDecoder(Object.values(this.#paths), { watch: ["ImageUsage", "BuildCacheUsage"] });
  }

  /**
   * Feeds the next bytes.
   * @throws DockerApiError (`df`) for more than `MAX_DISK_USAGE_BYTES`, broken JSON, or an entry of the wrong shape.
   */
  push(piece: Uint8Array): void {
    this.#bytes += piece.length;
    if (this.#bytes > MAX_DISK_USAGE_BYTES) {
      throw unusableAnswer("df", `more than ${MAX_DISK_USAGE_BYTES} bytes`, this.#decoder.sample);
    }
    let elements;
    try {
      elements = this.#decoder.push(piece);
    } catch (error) {
      throw this.#jsonError(error);
    }
    for (const { path, value } of elements) this.#add(path, value);
  }

  /**
   * Ends the answer and returns it.
   * @throws DockerApiError (`df`) for an answer cut short, or without images at all: not a disk usage document.
   */
  end(): DiskUsage {
    try {
      this.#decoder.end();
    } catch (error) {
      throw this.#jsonError(error);
    }
    const present = this.#decoder.present;
    const legacy = this.#paths === PATHS.legacy;
    const images = legacy ? "Images" : "ImageUsage";
    if (!present.has(images)) throw unusableAnswer("df", `an answer without ${images}`, this.#decoder.sample);
    // Docker before 23 writes `"BuildCache": null` for no records; an engine without a builder leaves it out.
    const hasBuildCache = present.has(legacy ? "BuildCache" : "BuildCacheUsage");
    return { ...this.#usage, buildCacheBytes: hasBuildCache ? this.#buildCacheBytes : undefined };
  }

  #add(path: string, entry: unknown): void {
    const paths = this.#paths;
    const usage = this.#usage;
    if (path === paths.images) push(usage.images, imageOf(entry), "images");
    else if (path === paths.containers) push(usage.containers, containerOf(entry), "containers");
    else if (path === paths.volumes) push(usage.volumes, volumeOf(entry), "volumes");
    else if (path === paths.buildCache) this.#buildCacheBytes += buildCacheBytesOf(entry);
  }

  #jsonError(error: unknown): unknown {
    if (!(error instanceof JsonPathError)) return error;
    return this.#decoder.opened
      ? unusableAnswer("df", `a broken JSON object (${error.message})`, this.#decoder.sample)
      : unusableAnswer("df", "something that is not a JSON object", this.#decoder.sample);
  }
}

function push<T>(list: T[], item: T, what: string): void {
  if (list.length === MAX_ENTRIES) throw unusableAnswer("df", `more than ${MAX_ENTRIES} ${what}`, item);
  list.push(item);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A byte count or reference count as the engine gives it: a whole number, -1 where it did not compute one. */
function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= -1;
}

function wrong(what: string, field: string, value: unknown): DockerApiError {
  return unusableAnswer("df", `${what} whose ${field} is not what the API gives`, value);
}

/** The names that stand for no name: Docker's before API 1.44, and Podman's. */
const NO_NAMES = new Set(["<none>:<none>", "<none>@<none>", "<none>"]);

/**
 * Whether an image is dangling as `docker images --filter dangling=true` means it: no tag and no digest names it.
 * Docker before API 1.44 writes `<none>:<none>` and `<none>@<none>` for none; Podman writes `<none>`, and lists the
 * intermediate images of its builds (untagged, with a child) too, so these count as dangling there.
 */
export function isDangling(repoTags: readonly string[], repoDigests: readonly string[]): boolean {
  return [...repoTags, ...repoDigests].every((name) => NO_NAMES.has(name));
}

function strings(entry: Record<string, unknown>, field: string, what: string): string[] {
  const value = entry[field];
  if (value === undefined || value === null) return [];
  if (Array.isArray(value) && value.every((item) => typeof item === "string")) return value;
  throw wrong(what, field, value);
}

function imageOf(entry: unknown): ImageUsage {
  if (!isObject(entry)) throw unusableAnswer("df", "an image that is not an object", entry);
  if (!isCount(entry.Size) || entry.Size < 0) throw wrong("an image", "Size", entry.Size);
  const tags = strings(entry, "RepoTags", "an image");
  const digests = strings(entry, "RepoDigests", "an image");
  return { dangling: isDangling(tags, digests), sizeBytes: entry.Size };
}

function containerOf(entry: unknown): ContainerDiskUsage {
  if (!isObject(entry)) throw unusableAnswer("df", "a container that is not an object", entry);
  if (typeof entry.Id !== "string" || entry.Id === "") throw wrong("a container", "Id", entry.Id);
  // Docker leaves out a SizeRw of 0 (`omitempty`).
  const sizeRw = entry.SizeRw ?? 0;
  if (!isCount(sizeRw) || sizeRw < 0) throw wrong("a container", "SizeRw", sizeRw);
  return { id: entry.Id, sizeRwBytes: sizeRw };
}

function volumeOf(entry: unknown): VolumeUsage {
  if (!isObject(entry)) throw unusableAnswer("df", "a volume that is not an object", entry);
  if (typeof entry.Name !== "string" || entry.Name === "") throw wrong("a volume", "Name", entry.Name);
  const data = entry.UsageData ?? {};
  if (!isObject(data)) throw wrong("a volume", "UsageData", data);
  const size = data.Size ?? -1;
  const refCount = data.RefCount ?? -1;
  if (!isCount(size)) throw wrong("a volume", "UsageData.Size", size);
  if (!isCount(refCount)) throw wrong("a volume", "UsageData.RefCount", refCount);
  return {
    name: entry.Name,
    sizeBytes: size < 0 ? undefined : size,
    containers: refCount < 0 ? undefined : refCount,
  };
}

function buildCacheBytesOf(entry: unknown): number {
  if (!isObject(entry)) throw unusableAnswer("df", "a build cache record that is not an object", entry);
  if (!isCount(entry.Size) || entry.Size < 0) throw wrong("a build cache record", "Size", entry.Size);
  const shared = entry.Shared ?? false;
  if (typeof shared !== "boolean") throw wrong("a build cache record", "Shared", shared);
  return shared ? 0 : entry.Size;
}
