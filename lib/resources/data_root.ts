/**
 * The file system that holds the engine's data root (`/info`'s `DockerRootDir`: `/var/lib/docker`, Podman's graph
 * root): its size and inodes from `statfs(2)`, and the device cAdvisor labels them with, the source of the mount that
 * holds it in `/proc/self/mountinfo`. Read in the background every `DATA_ROOT_INTERVAL_MS`; one `statfs` costs
 * microseconds, and nothing of the engine.
 */
import { statfs } from "node:fs";
import type { Logger } from "../shared/mod.ts";
import { collectEvery } from "./schedule.ts";

/** The size and inodes of one file system, as cAdvisor's `container_fs_limit_bytes` and `_inodes_*` give them. */
export interface FileSystemReading {
  /** The source of the mount holding the path (`/dev/vda`), else the device's `major:minor` (see `mountDevice`). */
  device: string;
  /** Blocks times fragment size: the whole file system, reserved blocks included, as cAdvisor counts it. */
  sizeBytes: number;
  inodes: number;
  inodesFree: number;
}

/** `statfs(2)`'s fields read here. */
export interface StatFs {
  bsize: number;
  /** The unit `blocks` counts in (`f_frsize`); Node's typings leave it out, Deno's `statfs` gives it. */
  frsize?: number;
  blocks: number;
  files: number;
  ffree: number;
}

/** What the reader asks of the file system; tests give their own. */
export interface StatFileSystem {
  /** `statfs(2)` of `path`. Deno needs read access to `path` and `--allow-sys=statfs`. */
  statfs(path: string): Promise<StatFs>;
  /** `st_dev` of `path`. */
  deviceNumber(path: string): Promise<number>;
  /** `path` with every symbolic link resolved. */
  realPath(path: string): Promise<string>;
  readTextFile(path: string): Promise<string>;
}

/** Deno's: `statfs` from node:fs (Deno has none of its own), the rest from `Deno`. */
export const DENO_STAT_FILE_SYSTEM: StatFileSystem = {
  statfs: (path) =>
    new Promise((resolve, reject) => statfs(path, (error, stats) => error ? reject(error) : resolve(stats as StatFs))),
  deviceNumber: async (path) => (await Deno.stat(path)).dev,
  realPath: (path) => Deno.realPath(path),
  readTextFile: (path) => Deno.readTextFile(path),
};

/** How often the data root's file system is read: often enough for free inodes, at no cost worth counting. */
export const DATA_ROOT_INTERVAL_MS = 15_000;

/**
 * How long a `statfs` may take. It answers in microseconds, except on a file system that hangs (an NFS server gone):
 * then the reading is dropped rather than left stale, as cAdvisor does after 2 s.
 */
export const STATFS_TIMEOUT_MS = 2_000;

/** What a `DataRootReader` needs. */
export interface DataRootOptions {
  /** `EXPORTER_DATA_ROOT`: where the data root is mounted for the exporter. */
  configured: string | undefined;
  /** The engine's `DockerRootDir`, once known; used when nothing is configured and the engine is on this host. */
  engineDataRoot: () => string | undefined;
  /** True when the engine is on another host (`tcp://`): its `DockerRootDir` names a path there, not here. */
  remoteEngine: boolean;
  /** Where the host's `/proc` is mounted (`EXPORTER_PROC_ROOT`): `self/mountinfo` names the devices. */
  procRoot: string;
  fs?: StatFileSystem;
  logger: Logger;
  /** The first reading waits until this is true (the first sync with the engine, which tells its data root). */
  ready?: () => boolean;
  /** Default `STATFS_TIMEOUT_MS`. */
  statfsTimeoutMs?: number;
}

/** Reads the data root's file system. `reading` and `generation` change together, when the reading changes. */
export class DataRootReader {
  readonly #options: DataRootOptions;
  readonly #fs: StatFileSystem;
  #reading: FileSystemReading | undefined;
  #generation = 0;
  /** The device named for a path and its device number, so mountinfo is read again only when either changes. */
  #device: { path: string; dev: number; name: string } | undefined;
  /** The paths whose failure was logged: each is told once. */
  readonly #told = new Set<string>();

  constructor(options: DataRootOptions) {
    this.#options = options;
    this.#fs = options.fs ?? DENO_STAT_FILE_SYSTEM;
  }

  /** The last reading; undefined while the data root is unknown or cannot be read. */
  get reading(): FileSystemReading | undefined {
    return this.#reading;
  }

  /** Increases whenever `reading` changes, so renderers can cache by it. */
  get generation(): number {
    return this.#generation;
  }

  /** The path read: the configured one, else the engine's own when the engine is on this host. */
  get path(): string | undefined {
    const { configured, remoteEngine, engineDataRoot } = this.#options;
    return configured ?? (remoteEngine ? undefined : engineDataRoot() || undefined);
  }

  /** Reads until `signal` aborts: once `ready`, every `DATA_ROOT_INTERVAL_MS`. */
  run(signal: AbortSignal): Promise<void> {
    return collectEvery({
      signal,
      ready: this.#options.ready,
      intervalMs: () => DATA_ROOT_INTERVAL_MS,
      now: () => performance.now(),
      collect: () => this.read(),
    });
  }

  /** One reading. Never throws: a path that cannot be read is logged once, and leaves no reading. */
  async read(): Promise<void> {
    const path = this.path;
    if (path === undefined) return this.#set(undefined);
    let next: FileSystemReading;
    try {
      const timeoutMs = this.#options.statfsTimeoutMs ?? STATFS_TIMEOUT_MS;
      const [stats, dev] = await withTimeout(
        Promise.all([this.#fs.statfs(path), this.#fs.deviceNumber(path)]),
        timeoutMs,
        `statfs of ${path} took longer than ${timeoutMs} ms`,
      );
      next = {
        device: await this.#deviceName(path, dev),
        sizeBytes: stats.blocks * (stats.frsize ?? stats.bsize),
        inodes: stats.files,
        inodesFree: stats.ffree,
      };
    } catch (error) {
      this.#tell(path, error);
      return this.#set(undefined);
    }
    this.#told.delete(path);
    this.#set(next);
  }

  #set(next: FileSystemReading | undefined): void {
    const last = this.#reading;
    const same = next === last || (next !== undefined && last !== undefined && next.device === last.device &&
      next.sizeBytes === last.sizeBytes && next.inodes === last.inodes && next.inodesFree === last.inodesFree);
    if (same) return;
    this.#reading = next;
    this.#generation++;
  }

  async #deviceName(path: string, dev: number): Promise<string> {
    const cached = this.#device;
    if (cached?.path === path && cached.dev === dev) return cached.name;
    const real = await this.#fs.realPath(path).catch(() => path);
    // Deno reads /proc only under --allow-all: through EXPORTER_PROC_ROOT mounted elsewhere, or not at all.
    const mountinfo = await this.#fs.readTextFile(`${this.#options.procRoot}/self/mountinfo`).catch(() => undefined);
    const name = mountDevice(mountinfo, dev, real);
    this.#device = { path, dev, name };
    return name;
  }

  #tell(path: string, error: unknown): void {
    if (this.#told.has(path)) return;
    this.#told.add(path);
    const { configured, logger } = this.#options;
    const missing = error instanceof Deno.errors.NotFound || (error as { code?: string })?.code === "ENOENT";
    const why = error instanceof Deno.errors.NotCapable
      ? `Deno has not granted read access to ${path} and --allow-sys=statfs`
      : missing
      ? `${path} does not exist here: mount the engine's data root and set EXPORTER_DATA_ROOT to where it is`
      : String((error as Error)?.message ?? error);
    const message = "cannot read the file system of the engine's data root; its size and inodes are left out";
    // Not mounted (the image sets EXPORTER_DATA_ROOT whether or not it is), or found through the engine but not
    // granted: a feature this deployment goes without. A configured path that fails otherwise is a fault.
    if (configured !== undefined && !missing) logger.warn(message, { path, why });
    else logger.info(message, { path, why });
  }
}

/** `promise`, or a rejection with `message` after `ms`. */
function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** `st_dev` as `major:minor`, decoded as glibc's `gnu_dev_major`/`gnu_dev_minor` do. */
export function majorMinor(dev: number): string {
  const d = BigInt(dev);
  const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn);
  const minor = (d & 0xffn) | ((d >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

/**
 * The device cAdvisor would name for the file system holding `path` (with links resolved), whose `st_dev` is `dev`:
 * the mount source (`/dev/vda`) of the line of `/proc/self/mountinfo` with that `major:minor` whose mount point holds
 * `path` most closely (any line with it, if none holds `path`). Without mountinfo, or without a line for the device,
 * its `major:minor` (`254:0`).
 */
export function mountDevice(mountinfo: string | undefined, dev: number, path: string): string {
  const device = majorMinor(dev);
  let best: { source: string; depth: number } | undefined;
  for (const line of (mountinfo ?? "").split("\n")) {
    const fields = line.split(" ");
    const separator = fields.indexOf("-", 6);
    if (fields[2] !== device || separator < 0 || fields.length < separator + 3) continue;
    const mountPoint = unescapeMountField(fields[4]);
    const holds = mountPoint === "/" || path === mountPoint || path.startsWith(`${mountPoint}/`);
    const depth = holds ? mountPoint.length : -1;
    if (!best || depth > best.depth) best = { source: unescapeMountField(fields[separator + 2]), depth };
  }
  return best?.source ?? device;
}

/** A mountinfo field with its octal escapes (`\040` for a space) undone. */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}
