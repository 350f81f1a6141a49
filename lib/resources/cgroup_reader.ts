/**
 * Reads a container's resource use straight from the kernel: its cgroup files (v1 and v2, under both the
 * cgroupfs layout `docker/<id>` and the systemd layout `system.slice/docker-<id>.scope`), the network
 * counters of its namespace in `/proc/<pid>/net/dev`, and its processes' open files in `/proc/<pid>/fd`. No call to
 * the engine.
 *
 * The parsers are pure and take file text. `CgroupReader` reads through an injected synchronous
 * `FileSystem` rooted where the host's `/sys/fs/cgroup` and `/proc` are mounted, so tests point it at
 * fixture trees. Synchronous reads, because these files live in memory: an async read would cost more in promise
 * and thread-pool overhead than the read itself (see bench/RESULTS.md).
 */
import {
  type BlockIoUsage,
  type ContainerUsage,
  type CpuUsage,
  deviceName,
  type MemoryUsage,
  type NetworkUsage,
  type PressureStall,
  type ProcessUsage,
  putStatFigures,
  UNLIMITED_ABOVE,
  V1_STAT_KEYS,
  V2_STAT_KEYS,
} from "./usage.ts";

/** The file access the reader needs. Paths are absolute. */
export interface FileSystem {
  /** The whole file as text; throws `Deno.errors.NotFound` when it does not exist. */
  readTextFile(path: string): string;
  /** The names in a directory. */
  readDir(path: string): string[];
  /** The target of a symbolic link (`socket:[4242]` for a socket in `/proc/<pid>/fd`). */
  readLink(path: string): string;
}

/** Deno's synchronous file system calls. */
export const DENO_FILE_SYSTEM: FileSystem = {
  readTextFile: (path) => Deno.readTextFileSync(path),
  readDir: (path) => Array.from(Deno.readDirSync(path), (entry) => entry.name),
  readLink: (path) => Deno.readLinkSync(path),
};

/** Clock ticks per second of `cpuacct.stat` (USER_HZ): 100 on every Linux architecture Docker runs on. */
export const USER_HZ = 100;

/** True for an error that means the container (its cgroup or its process) is gone. */
export function isGone(error: unknown): boolean {
  if (error instanceof Deno.errors.NotFound) return true;
  // ENODEV: a file of a cgroup removed while being read; ESRCH: a process that exited.
  return /\(os error (19|3)\)/.test((error as Error)?.message ?? "");
}

/** Runs `read`; a "gone" error (a file that is not there) gives `undefined`, any other is thrown. */
function unlessGone<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (error) {
    if (isGone(error)) return undefined;
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------- parsers

/** Parses `key value` lines (`memory.stat`, `cpu.stat`, `cpuacct.stat`, `memory.events`, ...). */
export function parseKeyedValues(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    const space = line.indexOf(" ");
    if (space <= 0) continue;
    const value = Number(line.slice(space + 1));
    if (Number.isFinite(value)) values.set(line.slice(0, space), value);
  }
  return values;
}

/** Parses a file holding one number, or `max` (v2 limits), which gives `Infinity`. */
export function parseNumber(text: string): number {
  const trimmed = text.trim();
  if (trimmed === "max") return Infinity;
  const value = Number(trimmed);
  if (trimmed === "" || !Number.isFinite(value)) throw new Error(`not a number: ${JSON.stringify(text.slice(0, 40))}`);
  return value;
}

/** A limit as cAdvisor reports it: 0 for unlimited (`max`, or v1's 2^63 rounded down to a page). */
export function limitValue(value: number): number {
  return value > UNLIMITED_ABOVE ? 0 : value;
}

/**
 * Parses `/proc/<pid>/net/dev`: two header lines, then `name: 8 receive and 8 transmit counters`.
 * @example parseNetDev(text).find((i) => i.interface === "lo")?.receivePackets
 */
export function parseNetDev(text: string): NetworkUsage[] {
  const interfaces: NetworkUsage[] = [];
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0 || line.includes("|")) continue;
    const n = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (n.length < 16 || n.some((v) => !Number.isFinite(v))) continue;
    interfaces.push({
      interface: line.slice(0, colon).trim(),
      receiveBytes: n[0],
      receivePackets: n[1],
      receiveErrors: n[2],
      receiveDropped: n[3],
      transmitBytes: n[8],
      transmitPackets: n[9],
      transmitErrors: n[10],
      transmitDropped: n[11],
    });
  }
  return interfaces;
}

/** Parses `/proc/partitions` into device names by `major:minor` (`"8:0"` → `"sda"`). */
export function parsePartitions(text: string): Map<string, string> {
  const names = new Map<string, string>();
  for (const line of text.split("\n")) {
    const [major, minor, , name] = line.trim().split(/\s+/);
    if (name !== undefined && /^\d+$/.test(major) && /^\d+$/.test(minor)) names.set(`${major}:${minor}`, name);
  }
  return names;
}

/** A device's row as the cgroup files give it: all four figures, its numbers, and bytes by operation. */
type IoRow = Required<Omit<BlockIoUsage, "cost">> & Pick<BlockIoUsage, "cost">;

/** The row of device `major:minor`, made on first use. */
function ioRow(rows: Map<string, IoRow>, devices: ReadonlyMap<string, string>, major: string, minor: string): IoRow {
  const key = `${major}:${minor}`;
  let row = rows.get(key);
  if (!row) {
    rows.set(
      key,
      row = {
        device: deviceName(devices, major, minor),
        major: Number(major),
        minor: Number(minor),
        readBytes: 0,
        writeBytes: 0,
        reads: 0,
        writes: 0,
        bytesByOperation: {},
      },
    );
  }
  return row;
}

/**
 * Parses cgroup v1's `blkio.throttle.io_service_bytes[_recursive]` and `..._io_serviced[_recursive]`:
 * `major:minor Op value` lines (Read, Write, Sync, Async, Discard, Total) and a closing `Total n`. Every operation's
 * bytes are kept in `bytesByOperation`; reads and writes also in their own fields.
 */
export function parseV1Blkio(bytesText: string, iosText: string, devices: ReadonlyMap<string, string>): BlockIoUsage[] {
  const rows = new Map<string, IoRow>();
  const add = (text: string, read: "readBytes" | "reads", write: "writeBytes" | "writes") => {
    for (const line of text.split("\n")) {
      const [key, op, value] = line.trim().split(/\s+/);
      const device = /^(\d+):(\d+)$/.exec(key);
      if (!device || op === undefined) continue;
      const row = ioRow(rows, devices, device[1], device[2]);
      const n = Number(value) || 0;
      if (read === "readBytes") row.bytesByOperation[op] = (row.bytesByOperation[op] ?? 0) + n;
      if (op === "Read") row[read] += n;
      else if (op === "Write") row[write] += n;
    }
  };
  add(bytesText, "readBytes", "writeBytes");
  add(iosText, "reads", "writes");
  return [...rows.values()];
}

/**
 * Parses cgroup v2's `io.stat`: `major:minor rbytes=.. wbytes=.. rios=.. wios=.. dbytes=.. dios=..` lines, with
 * `cost.usage=.. cost.wait=.. cost.indebt=.. cost.indelay=..` (microseconds) where the iocost controller is on.
 * `bytesByOperation` holds `Read` and `Write`, as runc and cAdvisor name `rbytes` and `wbytes`.
 */
export function parseIoStat(text: string, devices: ReadonlyMap<string, string>): BlockIoUsage[] {
  const rows = new Map<string, IoRow>();
  for (const line of text.split("\n")) {
    const [key, ...fields] = line.trim().split(/\s+/);
    const device = /^(\d+):(\d+)$/.exec(key);
    if (!device) continue;
    const row = ioRow(rows, devices, device[1], device[2]);
    for (const field of fields) {
      const [name, value] = field.split("=");
      const n = Number(value) || 0;
      if (name === "rbytes") row.readBytes += n;
      else if (name === "wbytes") row.writeBytes += n;
      else if (name === "rios") row.reads += n;
      else if (name === "wios") row.writes += n;
      else if (name.startsWith("cost.")) {
        row.cost ??= { usageSeconds: 0, waitSeconds: 0, indebtSeconds: 0, indelaySeconds: 0 };
        const seconds = n / 1e6;
        if (name === "cost.usage") row.cost.usageSeconds += seconds;
        else if (name === "cost.wait") row.cost.waitSeconds += seconds;
        else if (name === "cost.indebt") row.cost.indebtSeconds += seconds;
        else if (name === "cost.indelay") row.cost.indelaySeconds += seconds;
      }
    }
    row.bytesByOperation.Read = row.readBytes;
    row.bytesByOperation.Write = row.writeBytes;
  }
  return [...rows.values()];
}

/**
 * Parses a cgroup v2 pressure file (`cpu.pressure`, `memory.pressure`, `io.pressure`):
 * `some avg10=.. avg60=.. avg300=.. total=<µs>` and the same for `full`. A missing `full` line (the root cgroup's
 * `cpu.pressure` before Linux 5.13) counts as 0.
 * @example parsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=1500000\n")?.waitingSeconds // 1.5
 */
export function parsePressure(text: string): PressureStall | undefined {
  let some: number | undefined;
  let full = 0;
  for (const line of text.split("\n")) {
    const total = /^(some|full) .*\btotal=(\d+)/.exec(line);
    if (!total) continue;
    if (total[1] === "some") some = Number(total[2]) / 1e6;
    else full = Number(total[2]) / 1e6;
  }
  return some === undefined ? undefined : { waitingSeconds: some, stalledSeconds: full };
}

/**
 * The soft limit on open files in `/proc/<pid>/limits` (`Max open files  1048576  1048576  files`); -1 for
 * `unlimited`, as cAdvisor reports it; `undefined` when the line is not there.
 */
export function parseMaxOpenFiles(text: string): number | undefined {
  const line = /^Max open files\s+(\S+)/m.exec(text);
  if (!line) return undefined;
  if (line[1] === "unlimited") return -1;
  const value = Number(line[1]);
  return Number.isFinite(value) ? value : undefined;
}

/**
 * Parses `/proc/<pid>/cgroup` (`hierarchy:controllers:path` lines) into the path of each controller;
 * the cgroup v2 line (`0::/path`) is under the key `""`.
 */
export function parseProcCgroup(text: string): Map<string, string> {
  const paths = new Map<string, string>();
  for (const line of text.split("\n")) {
    const first = line.indexOf(":");
    const second = line.indexOf(":", first + 1);
    if (first < 0 || second < 0) continue;
    const path = line.slice(second + 1);
    for (const controller of line.slice(first + 1, second).split(",")) paths.set(controller, path);
  }
  return paths;
}

/** Sets `target[key]` to `value` unless that is undefined: a figure the source lacks is left out, not set. */
function put<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}

// ----------------------------------------------------------------------------------------------- layout

/** The cgroup v1 controllers read. */
export const V1_CONTROLLERS = ["cpu", "cpuacct", "memory", "blkio", "pids"] as const;
export type V1Controller = typeof V1_CONTROLLERS[number];

/**
 * How the host mounts cgroups: v2 (one unified tree), or v1 with one directory per controller, which may
 * be shared (`cpu,cpuacct`). `dirs` maps each v1 controller to its directory under the root.
 */
export type CgroupLayout =
  | { version: 2 }
  | { version: 1; dirs: Partial<Record<V1Controller, string>> };

/**
 * Tells the layout from the names in the cgroup root: v2 has `cgroup.controllers` there; v1 has a
 * directory per controller. A hybrid host (v1 controllers plus a `unified` v2 tree) is v1, as Docker
 * uses it. Returns `undefined` when it is neither (not a cgroup root).
 */
export function layoutFromRootEntries(entries: readonly string[]): CgroupLayout | undefined {
  if (entries.includes("cgroup.controllers")) return { version: 2 };
  const dirs: Partial<Record<V1Controller, string>> = {};
  for (const controller of V1_CONTROLLERS) {
    const dir = entries.includes(controller)
      ? controller
      : entries.find((entry) => entry.split(",").includes(controller));
    if (dir !== undefined) dirs[controller] = dir;
  }
  return dirs.cpuacct !== undefined && dirs.memory !== undefined ? { version: 1, dirs } : undefined;
}

/**
 * Where a container's cgroup may be, relative to a hierarchy's root, most likely first: the path its
 * init process reports in `/proc/<pid>/cgroup` (covers `--cgroup-parent` and rootless engines), then
 * Docker's cgroupfs layout, then its systemd layout. A path from another cgroup namespace (`/..`) is skipped.
 */
export function cgroupCandidates(
  id: string,
  layout: CgroupLayout,
  procCgroup?: ReadonlyMap<string, string>,
): string[] {
  const fromProc = procCgroup?.get(layout.version === 2 ? "" : "memory");
  const usable = fromProc !== undefined && fromProc.startsWith("/") && fromProc.includes(id) &&
    !fromProc.split("/").includes("..");
  const candidates = [`/docker/${id}`, `/system.slice/docker-${id}.scope`];
  return usable && !candidates.includes(fromProc) ? [fromProc, ...candidates] : candidates;
}

// ----------------------------------------------------------------------------------------------- reader

/** Where the reader finds things. */
export interface CgroupReaderOptions {
  fs: FileSystem;
  /** The host's `/sys/fs/cgroup`, as mounted for the exporter. */
  cgroupRoot: string;
  /** The host's `/proc`, as mounted for the exporter. */
  procRoot: string;
  /** Told once about each kind of file that cannot be read (network counters, device names). */
  onWarning?: (message: string, error: unknown) => void;
}

/**
 * Opens the cgroup root and tells its layout.
 * @throws Error saying why the root cannot be used (missing, not readable, not a cgroup root).
 */
export function openCgroupReader(options: CgroupReaderOptions): CgroupReader {
  let entries: string[];
  try {
    entries = options.fs.readDir(options.cgroupRoot);
  } catch (error) {
    // Deno's own advice ("run again with the --allow-read flag") does not help under /sys and /proc: say what does.
    const why = error instanceof Deno.errors.NotCapable
      ? `not granted to read it${
        /^\/(sys|proc)(\/|$)/.test(options.cgroupRoot)
          ? ", and Deno lets a program read /sys and /proc only with --allow-all"
          : ` (grant --allow-read=${options.cgroupRoot})`
      }; mount the host's /sys/fs/cgroup and /proc elsewhere, point EXPORTER_CGROUP_ROOT and EXPORTER_PROC_ROOT ` +
        "there and grant reading them, as the image does (docs/permissions.md#reading-proc-and-sys)"
      : (error as Error).message;
    throw new Error(`Cannot read the cgroup root ${options.cgroupRoot}: ${why}`, { cause: error });
  }
  const layout = layoutFromRootEntries(entries);
  if (!layout) {
    throw new Error(
      `${options.cgroupRoot} is not a cgroup root: it has neither cgroup.controllers (v2) nor cpuacct and memory (v1)`,
    );
  }
  return new CgroupReader(options, layout);
}

/**
 * Reads containers' usage from cgroup files. Remembers where each container's cgroup is (until its
 * process changes), so finding it costs a few reads once per container start.
 */
export class CgroupReader {
  readonly layout: CgroupLayout;
  readonly #options: CgroupReaderOptions;
  #where = new Map<string, { pid: number; path: string }>();
  #devices: ReadonlyMap<string, string> = new Map();
  #warned = new Set<string>();

  constructor(options: CgroupReaderOptions, layout: CgroupLayout) {
    this.#options = options;
    this.layout = layout;
  }

  /** `"v1"` or `"v2"`. */
  get versionName(): string {
    return `v${this.layout.version}`;
  }

  /** Starts a collection: forgets containers not in `ids` and re-reads the block device names. */
  beginCycle(ids: ReadonlySet<string>): void {
    for (const id of this.#where.keys()) if (!ids.has(id)) this.#where.delete(id);
    try {
      this.#devices = parsePartitions(this.#options.fs.readTextFile(`${this.#options.procRoot}/partitions`));
    } catch (error) {
      this.#warnOnce("partitions", "block devices are labelled major:minor: cannot read their names", error);
      this.#devices = new Map();
    }
  }

  /**
   * Reads one container. `pid` is its init process (for the network counters and to find its cgroup).
   * Returns `undefined` when its cgroup is not there (the container is gone, or is not under this root).
   * @throws for a file that exists but cannot be read or parsed.
   */
  read(id: string, pid: number): ContainerUsage | undefined {
    const usage = this.#readCgroup(id, pid);
    if (usage === undefined) return undefined;
    if (pid > 0) {
      try {
        usage.network = parseNetDev(this.#options.fs.readTextFile(`${this.#options.procRoot}/${pid}/net/dev`));
      } catch (error) {
        // A process that just exited has no counters; anything else means /proc is not readable.
        if (!isGone(error)) this.#warnOnce("net", "no network metrics: cannot read /proc/<pid>/net/dev", error);
      }
      if (usage.processes) put(usage.processes, "maxOpenFiles", this.#maxOpenFiles(pid));
    }
    return usage;
  }

  /**
   * The processes listed in `procsFile` (a `cgroup.procs`), and their open files and sockets from `/proc/<pid>/fd`
   * as cAdvisor counts them: a directory listing per process and a `readlink` per descriptor.
   * Reading another user's descriptors takes root (or CAP_SYS_PTRACE); without it they are unknown, and said so once.
   */
  #readProcesses(procsFile: string): ProcessUsage | undefined {
    const { fs, procRoot } = this.#options;
    const text = unlessGone(() => fs.readTextFile(procsFile));
    if (text === undefined) return undefined;
    const pids = text.split("\n").filter((line) => line !== "");
    const processes: ProcessUsage = { count: pids.length };
    let fds = 0;
    let sockets = 0;
    let read = false;
    for (const pid of pids) {
      const dir = `${procRoot}/${pid}/fd`;
      let names: string[];
      try {
        names = fs.readDir(dir);
      } catch (error) {
        // A process that exited since cgroup.procs was read has no descriptors to count.
        if (isGone(error)) continue;
        // Counting some processes' descriptors and not others' would give a figure that is neither.
        this.#warnOnce("fd", "no container_file_descriptors or container_sockets: cannot read /proc/<pid>/fd", error);
        return processes;
      }
      read = true;
      fds += names.length;
      for (const name of names) {
        // A descriptor closed since the listing is simply not counted.
        const target = unlessGone(() => fs.readLink(`${dir}/${name}`));
        if (target?.startsWith("socket:")) sockets++;
      }
    }
    if (read) {
      processes.fds = fds;
      processes.sockets = sockets;
    }
    return processes;
  }

  /** The init process's soft limit on open files, or `undefined` when it cannot be read. */
  #maxOpenFiles(pid: number): number | undefined {
    try {
      return parseMaxOpenFiles(this.#options.fs.readTextFile(`${this.#options.procRoot}/${pid}/limits`));
    } catch (error) {
      if (!isGone(error)) this.#warnOnce("limits", "no container_ulimits_soft: cannot read /proc/<pid>/limits", error);
      return undefined;
    }
  }

  #readCgroup(id: string, pid: number): ContainerUsage | undefined {
    const known = this.#where.get(id);
    if (known && known.pid === pid) {
      try {
        return this.#readAt(known.path);
      } catch (error) {
        if (!isGone(error)) throw error;
        this.#where.delete(id);
        return undefined;
      }
    }
    for (const path of cgroupCandidates(id, this.layout, this.#procCgroup(pid))) {
      try {
        const usage = this.#readAt(path);
        this.#where.set(id, { pid, path });
        return usage;
      } catch (error) {
        if (!isGone(error)) throw error;
      }
    }
    return undefined;
  }

  #procCgroup(pid: number): Map<string, string> | undefined {
    if (pid <= 0) return undefined;
    try {
      return parseProcCgroup(this.#options.fs.readTextFile(`${this.#options.procRoot}/${pid}/cgroup`));
    } catch {
      return undefined;
    }
  }

  /** Reads the cgroup at `path` (relative to each hierarchy); throws a "gone" error when it is not there. */
  #readAt(path: string): ContainerUsage {
    return this.layout.version === 2 ? this.#readV2(path) : this.#readV1(this.layout.dirs, path);
  }

  #readV1(dirs: Partial<Record<V1Controller, string>>, path: string): ContainerUsage {
    const { fs, cgroupRoot } = this.#options;
    const file = (controller: V1Controller, name: string) => `${cgroupRoot}/${dirs[controller]}${path}/${name}`;
    // The one file that must be there: its absence means the container is not here.
    const totalNs = parseNumber(fs.readTextFile(file("cpuacct", "cpuacct.usage")));
    const ticks = unlessGone(() => parseKeyedValues(fs.readTextFile(file("cpuacct", "cpuacct.stat"))));
    const cfs = dirs.cpu === undefined
      ? undefined
      : unlessGone(() => parseKeyedValues(fs.readTextFile(file("cpu", "cpu.stat"))));
    const cpu: CpuUsage = {
      totalSeconds: totalNs / 1e9,
      userSeconds: (ticks?.get("user") ?? 0) / USER_HZ,
      systemSeconds: (ticks?.get("system") ?? 0) / USER_HZ,
      ...(cfs?.has("nr_periods")
        ? {
          periods: cfs.get("nr_periods")!,
          throttledPeriods: cfs.get("nr_throttled") ?? 0,
          throttledSeconds: (cfs.get("throttled_time") ?? 0) / 1e9,
        }
        : {}),
    };
    // CFS burst, Linux 5.14+.
    if (cfs?.has("nr_bursts")) {
      cpu.bursts = cfs.get("nr_bursts")!;
      cpu.burstSeconds = (cfs.get("burst_time") ?? 0) / 1e9;
    }
    const memory = unlessGone((): MemoryUsage => {
      const usageBytes = parseNumber(fs.readTextFile(file("memory", "memory.usage_in_bytes")));
      const stat = parseKeyedValues(fs.readTextFile(file("memory", "memory.stat")));
      const failcnt = parseNumber(fs.readTextFile(file("memory", "memory.failcnt")));
      const oomKills = parseKeyedValues(fs.readTextFile(file("memory", "memory.oom_control"))).get("oom_kill");
      const memory: MemoryUsage = {
        usageBytes,
        workingSetBytes: Math.max(0, usageBytes - (stat.get("total_inactive_file") ?? 0)),
        rssBytes: stat.get("total_rss") ?? 0,
        cacheBytes: stat.get("total_cache") ?? 0,
        failcnt,
      };
      // `oom_kill` is there from Linux 4.13.
      put(memory, "oomKills", oomKills);
      put(
        memory,
        "maxUsageBytes",
        unlessGone(() => parseNumber(fs.readTextFile(file("memory", "memory.max_usage_in_bytes")))),
      );
      // Kernel memory accounting can be compiled out, and the file with it.
      put(
        memory,
        "kernelBytes",
        unlessGone(() => parseNumber(fs.readTextFile(file("memory", "memory.kmem.usage_in_bytes")))),
      );
      putStatFigures(memory, V1_STAT_KEYS, (key) => stat.get(key));
      return memory;
    });
    const blockIo = dirs.blkio === undefined ? undefined : unlessGone(() => {
      // The throttle files count every cgroup's I/O (the CFQ and BFQ ones only on devices using that scheduler);
      // the _recursive ones include child cgroups and exist from Linux 4.x.
      const read = (name: string) =>
        unlessGone(() => fs.readTextFile(file("blkio", `${name}_recursive`))) ?? fs.readTextFile(file("blkio", name));
      return parseV1Blkio(
        read("blkio.throttle.io_service_bytes"),
        read("blkio.throttle.io_serviced"),
        this.#devices,
      );
    });
    const tasks = dirs.pids === undefined
      ? undefined
      : unlessGone(() => parseNumber(fs.readTextFile(file("pids", "pids.current"))));
    const tasksLimit = tasks === undefined
      ? undefined
      : unlessGone(() => limitValue(parseNumber(fs.readTextFile(file("pids", "pids.max")))));
    // cAdvisor lists the processes of the cpu controller's cgroup.
    const processes = this.#readProcesses(file(dirs.cpu === undefined ? "cpuacct" : "cpu", "cgroup.procs"));
    return {
      cpu,
      ...(memory ? { memory } : {}),
      network: [],
      blockIo: blockIo ?? [],
      ...(tasks !== undefined ? { tasks } : {}),
      ...(tasksLimit !== undefined ? { tasksLimit } : {}),
      ...(processes ? { processes } : {}),
    };
  }

  #readV2(path: string): ContainerUsage {
    const { fs, cgroupRoot } = this.#options;
    const file = (name: string) => `${cgroupRoot}${path}/${name}`;
    // cpu.stat is in every v2 cgroup, whichever controllers are enabled: its absence means the container is not here.
    const cpuStat = parseKeyedValues(fs.readTextFile(file("cpu.stat")));
    const cpu: CpuUsage = {
      totalSeconds: (cpuStat.get("usage_usec") ?? 0) / 1e6,
      userSeconds: (cpuStat.get("user_usec") ?? 0) / 1e6,
      systemSeconds: (cpuStat.get("system_usec") ?? 0) / 1e6,
      // The CFS lines are there only while the cpu controller is enabled for the cgroup.
      ...(cpuStat.has("nr_periods")
        ? {
          periods: cpuStat.get("nr_periods")!,
          throttledPeriods: cpuStat.get("nr_throttled") ?? 0,
          throttledSeconds: (cpuStat.get("throttled_usec") ?? 0) / 1e6,
        }
        : {}),
    };
    if (cpuStat.has("nr_bursts")) {
      cpu.bursts = cpuStat.get("nr_bursts")!;
      cpu.burstSeconds = (cpuStat.get("burst_usec") ?? 0) / 1e6;
    }
    const memory = unlessGone((): MemoryUsage => {
      const usageBytes = parseNumber(fs.readTextFile(file("memory.current")));
      const stat = parseKeyedValues(fs.readTextFile(file("memory.stat")));
      const events = parseKeyedValues(fs.readTextFile(file("memory.events")));
      const memory: MemoryUsage = {
        usageBytes,
        workingSetBytes: Math.max(0, usageBytes - (stat.get("inactive_file") ?? 0)),
        rssBytes: stat.get("anon") ?? 0,
        cacheBytes: stat.get("file") ?? 0,
        // v2 has no failcnt; `max` counts the same thing: times usage was about to go over the limit.
        failcnt: events.get("max") ?? 0,
        oomKills: events.get("oom_kill") ?? 0,
        highEvents: events.get("high") ?? 0,
        maxEvents: events.get("max") ?? 0,
      };
      // memory.peak from Linux 5.19; memory.swap.current only with swap accounting.
      put(memory, "maxUsageBytes", unlessGone(() => parseNumber(fs.readTextFile(file("memory.peak")))));
      put(memory, "swapBytes", unlessGone(() => parseNumber(fs.readTextFile(file("memory.swap.current")))));
      putStatFigures(memory, V2_STAT_KEYS, (key) => stat.get(key));
      return memory;
    });
    const blockIo = unlessGone(() => parseIoStat(fs.readTextFile(file("io.stat")), this.#devices));
    const tasks = unlessGone(() => parseNumber(fs.readTextFile(file("pids.current"))));
    const tasksLimit = tasks === undefined
      ? undefined
      : unlessGone(() => limitValue(parseNumber(fs.readTextFile(file("pids.max")))));
    // The pressure files are there unless the kernel runs with psi=0.
    const pressure: NonNullable<ContainerUsage["pressure"]> = {};
    for (const resource of ["cpu", "memory", "io"] as const) {
      put(pressure, resource, unlessGone(() => parsePressure(fs.readTextFile(file(`${resource}.pressure`)))));
    }
    const processes = this.#readProcesses(file("cgroup.procs"));
    return {
      cpu,
      ...(memory ? { memory } : {}),
      network: [],
      blockIo: blockIo ?? [],
      ...(tasks !== undefined ? { tasks } : {}),
      ...(tasksLimit !== undefined ? { tasksLimit } : {}),
      ...(Object.keys(pressure).length > 0 ? { pressure } : {}),
      ...(processes ? { processes } : {}),
    };
  }

  #warnOnce(kind: string, message: string, error: unknown): void {
    if (this.#warned.has(kind)) return;
    this.#warned.add(kind);
    this.#options.onWarning?.(message, error);
  }
}
