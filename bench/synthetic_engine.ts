/**
 * A synthetic Docker engine for benchmarks: a load generator, like wrk, for scales a 2-core machine cannot run
 * for real. It serves the slice of the Engine API the exporter uses (`/version`, `/info`, `/containers/json`,
 * `/containers/{id}/json`, `/events`; and `/_ping`, as dockerd has it) over a unix socket with HTTP/1.1 keep-alive, for N containers
 * whose documents have the shape and size of real dockerd answers, and it emits event bursts on demand.
 * Correctness tests stay on the real engine; this only has to be fast and faithful in shape.
 *
 * Run alone: `deno run -A bench/synthetic_engine.ts --containers 10000 [--socket /tmp/engine.sock]`;
 * `kill -USR1 <pid>` then sends a burst of `docker restart` events (kill, die, stop, start, restart) for 1,000
 * containers: 5,000 events.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const ZERO_TIME = "0001-01-01T00:00:00Z";
const IMAGE_ID = "sha256:" + pseudoRandomHex(-1000);

/** Engine-side state of one synthetic container, from which its list entry and inspect document are made. */
export interface SyntheticContainer {
  id: string;
  name: string;
  state: "created" | "running" | "paused" | "restarting" | "exited" | "dead";
  createdNs: bigint;
  startedNs: bigint | undefined;
  finishedNs: bigint | undefined;
  exitCode: number;
  restartCount: number;
  labels: Record<string, string>;
  /** The serialized inspect document, dropped on every change. */
  inspectJson?: Uint8Array;
  /** The serialized list entry, dropped on every change. */
  listJson?: string;
}

/** What the engine counts, for the benchmark report. */
export interface EngineCounters {
  /** Requests by operation: version, info, list, inspect, events, ping, other. */
  requests: Map<string, number>;
  /** Most requests that were being answered at the same moment (inspects and lists). */
  maxInFlight: number;
  /** Most connections open at the same moment (event streams included). */
  maxConnections: number;
  /** `performance.now()` when the last inspect answer was written. */
  lastInspectAtMs: number;
}

/** How to build the engine. */
export interface SyntheticEngineOptions {
  /** How many containers exist at start (all running). */
  containers: number;
  /** Socket path; default a fresh one in a temporary directory. */
  path?: string;
  /** Milliseconds the engine waits before answering an inspect, to model a slower engine. Default 0. */
  inspectDelayMs?: number;
}

/** Formats nanoseconds since the epoch the way dockerd does: RFC 3339 with nine fraction digits. */
export function dockerTime(ns: bigint | undefined): string {
  if (ns === undefined) return ZERO_TIME;
  const ms = Number(ns / 1_000_000n);
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, "0");
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, `.${fraction}Z`);
}

/** Unix seconds, with the nanoseconds, as the exporter writes a Docker time: 1795619323.1929142. */
export function exporterSeconds(ns: bigint): number {
  const ms = Number(ns / 1_000_000n);
  const fraction = Number(ns % 1_000_000_000n) / 1e9;
  return Math.floor(ms / 1000) + fraction;
}

/**
 * 64 hex characters that look random, as engine ids and compose's config hashes do, and are the same for the same
 * `seed` on every run (distinct seeds give distinct strings). They must look random: a scrape repeats each id in
 * every family, and gzip shrinks a patterned id to almost nothing, which made the synthetic 1,000-container scrape
 * 136 KiB gzipped where ids that look random give 446 KiB.
 */
export function pseudoRandomHex(seed: number): string {
  let state = Math.imul(seed, 0x9e3779b1) >>> 0;
  let out = "";
  for (let i = 0; i < 8; i++) {
    // splitmix32: a counter stepped by the golden ratio, through murmur3's finalizer (a bijection).
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    out += ((z ^ (z >>> 16)) >>> 0).toString(16).padStart(8, "0");
  }
  return out;
}

/** The id of synthetic container number `n`: 64 hex characters, stable across runs. */
export function syntheticId(n: number): string {
  return pseudoRandomHex(n);
}

/** Synthetic container number `n`, running since 150 ms after `createdNs`, with compose labels. */
export function syntheticContainer(n: number, createdNs: bigint): SyntheticContainer {
  return {
    id: syntheticId(n),
    name: `proj${n % 7}-svc${n % 50}-${1 + Math.floor(n / 50)}`,
    state: "running",
    createdNs,
    startedNs: createdNs + 150_000_000n,
    finishedNs: undefined,
    exitCode: 0,
    restartCount: 0,
    labels: composeLabels(n),
  };
}

/** Labels a container started by `docker compose` carries; the exporter copies ten of them onto one series. */
export function composeLabels(n: number): Record<string, string> {
  const service = `svc${n % 50}`;
  return {
    // Compose hashes a service's configuration: its replicas share one.
    "com.docker.compose.config-hash": pseudoRandomHex(-1 - (n % 50)),
    "com.docker.compose.container-number": String(1 + Math.floor(n / 50)),
    "com.docker.compose.depends_on": "",
    "com.docker.compose.image": IMAGE_ID,
    "com.docker.compose.oneoff": "False",
    "com.docker.compose.project": `proj${n % 7}`,
    "com.docker.compose.project.config_files": `/srv/proj${n % 7}/compose.yaml`,
    "com.docker.compose.project.working_dir": `/srv/proj${n % 7}`,
    "com.docker.compose.service": service,
    "com.docker.compose.version": "2.29.1",
  };
}

/** The inspect document, with every field real dockerd 20.10 sends for a `--network none` container. */
export function inspectDocument(c: SyntheticContainer): unknown {
  const dir = `/var/lib/docker/containers/${c.id}`;
  const layer = c.id.slice(0, 48) + "0123456789abcdef";
  return {
    Id: c.id,
    Created: dockerTime(c.createdNs),
    Path: "sleep",
    Args: ["3600"],
    State: {
      Status: c.state,
      Running: c.state === "running" || c.state === "paused" || c.state === "restarting",
      Paused: c.state === "paused",
      Restarting: c.state === "restarting",
      OOMKilled: false,
      Dead: c.state === "dead",
      Pid: c.state === "running" ? 1000 + (parseInt(c.id.slice(0, 6), 16) % 30000) : 0,
      ExitCode: c.exitCode,
      Error: "",
      StartedAt: dockerTime(c.startedNs),
      FinishedAt: dockerTime(c.finishedNs),
    },
    Image: IMAGE_ID,
    ResolvConfPath: `${dir}/resolv.conf`,
    HostnamePath: `${dir}/hostname`,
    HostsPath: `${dir}/hosts`,
    LogPath: `${dir}/${c.id}-json.log`,
    Name: `/${c.name}`,
    RestartCount: c.restartCount,
    Driver: "overlay2",
    Platform: "linux",
    MountLabel: "",
    ProcessLabel: "",
    AppArmorProfile: "",
    ExecIDs: null,
    HostConfig: {
      Binds: null,
      ContainerIDFile: "",
      LogConfig: { Type: "json-file", Config: {} },
      NetworkMode: "none",
      PortBindings: {},
      RestartPolicy: { Name: "no", MaximumRetryCount: 0 },
      AutoRemove: false,
      VolumeDriver: "",
      VolumesFrom: null,
      CapAdd: null,
      CapDrop: null,
      CgroupnsMode: "host",
      Dns: [],
      DnsOptions: [],
      DnsSearch: [],
      ExtraHosts: null,
      GroupAdd: null,
      IpcMode: "private",
      Cgroup: "",
      Links: null,
      OomScoreAdj: 0,
      PidMode: "",
      Privileged: false,
      PublishAllPorts: false,
      ReadonlyRootfs: false,
      SecurityOpt: null,
      UTSMode: "",
      UsernsMode: "",
      ShmSize: 67108864,
      Runtime: "runc",
      ConsoleSize: [0, 0],
      Isolation: "",
      CpuShares: 0,
      Memory: 0,
      NanoCpus: 0,
      CgroupParent: "",
      BlkioWeight: 0,
      BlkioWeightDevice: [],
      BlkioDeviceReadBps: [],
      BlkioDeviceWriteBps: [],
      BlkioDeviceReadIOps: [],
      BlkioDeviceWriteIOps: [],
      CpuPeriod: 0,
      CpuQuota: 0,
      CpuRealtimePeriod: 0,
      CpuRealtimeRuntime: 0,
      CpusetCpus: "",
      CpusetMems: "",
      Devices: [],
      DeviceCgroupRules: null,
      DeviceRequests: null,
      KernelMemory: 0,
      KernelMemoryTCP: 0,
      MemoryReservation: 0,
      MemorySwap: 0,
      MemorySwappiness: null,
      OomKillDisable: false,
      PidsLimit: null,
      Ulimits: [],
      CpuCount: 0,
      CpuPercent: 0,
      IOMaximumIOps: 0,
      IOMaximumBandwidth: 0,
      MaskedPaths: [
        "/proc/asound",
        "/proc/acpi",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/proc/scsi",
        "/sys/firmware",
      ],
      ReadonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    },
    GraphDriver: {
      Data: {
        LowerDir: `/var/lib/docker/overlay2/${layer}-init/diff:/var/lib/docker/overlay2/${IMAGE_ID.slice(7)}/diff`,
        MergedDir: `/var/lib/docker/overlay2/${layer}/merged`,
        UpperDir: `/var/lib/docker/overlay2/${layer}/diff`,
        WorkDir: `/var/lib/docker/overlay2/${layer}/work`,
      },
      Name: "overlay2",
    },
    Mounts: [],
    Config: {
      Hostname: c.id.slice(0, 12),
      Domainname: "",
      User: "",
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      Cmd: ["sleep", "3600"],
      Image: "registry.example.com/team/app:1.27.3",
      Volumes: null,
      WorkingDir: "",
      Entrypoint: null,
      OnBuild: null,
      Labels: c.labels,
    },
    NetworkSettings: {
      Bridge: "",
      SandboxID: layer,
      HairpinMode: false,
      LinkLocalIPv6Address: "",
      LinkLocalIPv6PrefixLen: 0,
      Ports: {},
      SandboxKey: `/var/run/docker/netns/${layer.slice(0, 12)}`,
      SecondaryIPAddresses: null,
      SecondaryIPv6Addresses: null,
      EndpointID: "",
      Gateway: "",
      GlobalIPv6Address: "",
      GlobalIPv6PrefixLen: 0,
      IPAddress: "",
      IPPrefixLen: 0,
      IPv6Gateway: "",
      MacAddress: "",
      Networks: {
        none: {
          IPAMConfig: null,
          Links: null,
          Aliases: null,
          NetworkID: "173485d752553f4502f96f4f93866f247fa6002828e29e548404cd7942846f5b",
          EndpointID: layer,
          Gateway: "",
          IPAddress: "",
          IPPrefixLen: 0,
          IPv6Gateway: "",
          GlobalIPv6Address: "",
          GlobalIPv6PrefixLen: 0,
          MacAddress: "",
          DriverOpts: null,
        },
      },
    },
  };
}

/** The `/containers/json?all=1` entry, as dockerd 20.10 writes it. */
export function listEntry(c: SyntheticContainer): string {
  const status = c.state === "running"
    ? "Up 5 minutes"
    : c.state === "exited"
    ? `Exited (${c.exitCode}) 2 seconds ago`
    : c.state === "created"
    ? "Created"
    : c.state;
  return JSON.stringify({
    Id: c.id,
    Names: [`/${c.name}`],
    Image: "registry.example.com/team/app:1.27.3",
    ImageID: IMAGE_ID,
    Command: "sleep 3600",
    Created: Number(c.createdNs / 1_000_000_000n),
    Ports: [],
    Labels: c.labels,
    State: c.state,
    Status: status,
    HostConfig: { NetworkMode: "none" },
    NetworkSettings: {
      Networks: {
        none: {
          IPAMConfig: null,
          Links: null,
          Aliases: null,
          NetworkID: "173485d752553f4502f96f4f93866f247fa6002828e29e548404cd7942846f5b",
          EndpointID: c.id,
          Gateway: "",
          IPAddress: "",
          IPPrefixLen: 0,
          IPv6Gateway: "",
          GlobalIPv6Address: "",
          GlobalIPv6PrefixLen: 0,
          MacAddress: "",
          DriverOpts: null,
        },
      },
    },
    Mounts: [],
  });
}

function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n + BigInt(Math.floor(Math.random() * 1e6));
}

/** A container event as dockerd writes it on `/events`, one chunk per event. */
export function eventChunk(
  c: SyntheticContainer,
  action: string,
  timeNs: bigint,
  extra: Record<string, string> = {},
): string {
  const json = JSON.stringify({
    status: action,
    id: c.id,
    from: "registry.example.com/team/app:1.27.3",
    Type: "container",
    Action: action,
    Actor: {
      ID: c.id,
      Attributes: { ...c.labels, image: "registry.example.com/team/app:1.27.3", name: c.name, ...extra },
    },
    scope: "local",
    time: Number(timeNs / 1_000_000_000n),
    timeNano: Number(timeNs),
  }) + "\n";
  // The events are ASCII, so characters are bytes.
  return `${json.length.toString(16)}\r\n${json}\r\n`;
}

/** The synthetic engine. */
export class SyntheticEngine {
  readonly containers = new Map<string, SyntheticContainer>();
  readonly counters: EngineCounters = {
    requests: new Map(),
    maxInFlight: 0,
    maxConnections: 0,
    lastInspectAtMs: 0,
  };
  #listener: Deno.Listener | undefined;
  #conns = new Set<Deno.Conn>();
  #eventStreams = new Set<Deno.Conn>();
  #inFlight = 0;
  #nextNumber = 0;
  #listCache: Uint8Array | undefined;
  readonly #inspectDelayMs: number;

  private constructor(readonly path: string, options: SyntheticEngineOptions) {
    this.#inspectDelayMs = options.inspectDelayMs ?? 0;
    const started = nowNs() - 3_600_000_000_000n;
    for (let i = 0; i < options.containers; i++) this.#addContainer(started);
  }

  /** Builds the containers and starts listening. */
  static async start(options: SyntheticEngineOptions): Promise<SyntheticEngine> {
    const path = options.path ?? `${await Deno.makeTempDir({ prefix: "synthetic-engine-" })}/docker.sock`;
    const engine = new SyntheticEngine(path, options);
    try {
      Deno.removeSync(path);
    } catch { /* not there */ }
    engine.#listener = Deno.listen({ transport: "unix", path });
    void engine.#accept(engine.#listener);
    return engine;
  }

  /** `unix://` address for DOCKER_HOST. */
  get url(): string {
    return `unix://${this.path}`;
  }

  /** Requests answered for `operation` so far. */
  count(operation: string): number {
    return this.counters.requests.get(operation) ?? 0;
  }

  /** Resets the request counters (not the containers). */
  resetCounters(): void {
    this.counters.requests.clear();
    this.counters.maxInFlight = 0;
    this.counters.maxConnections = this.#conns.size;
  }

  /** Stops listening and closes every connection. */
  close(): void {
    this.#listener?.close();
    this.#listener = undefined;
    for (const conn of this.#conns) safeClose(conn);
    this.#conns.clear();
    this.#eventStreams.clear();
    try {
      Deno.removeSync(this.path);
    } catch { /* already gone */ }
  }

  /**
   * `docker restart` for each container in `ids`, as dockerd does it: the state changes first, then the five
   * events kill, die (exit code 137), stop, start and restart are sent, in one write per `batch` events.
   * Returns `performance.now()` when the last event was written.
   */
  async restartBurst(ids: readonly string[], batch = 500): Promise<number> {
    const chunks: string[] = [];
    for (const id of ids) {
      const c = this.containers.get(id);
      if (!c) throw new Error(`no synthetic container ${id}`);
      const died = nowNs();
      c.finishedNs = died;
      c.exitCode = 137;
      // A distinct start time, so a scrape shows whether the inspect after the burst has landed.
      c.startedNs = died + 1_234_567n;
      c.state = "running";
      this.#changed(c);
      chunks.push(
        eventChunk(c, "kill", died, { signal: "15" }),
        eventChunk(c, "die", died, { exitCode: "137" }),
        eventChunk(c, "stop", died),
        eventChunk(c, "start", c.startedNs),
        eventChunk(c, "restart", c.startedNs),
      );
    }
    return await this.#sendChunks(chunks, batch);
  }

  /**
   * Creates and starts `count` new containers: a `create` and a `start` event each.
   * Returns the new ids and `performance.now()` when the last event was written.
   */
  async createBurst(count: number, batch = 500): Promise<{ ids: string[]; lastEventAtMs: number }> {
    const ids: string[] = [];
    const chunks: string[] = [];
    for (let i = 0; i < count; i++) {
      const c = this.#addContainer(nowNs());
      ids.push(c.id);
      chunks.push(eventChunk(c, "create", c.createdNs), eventChunk(c, "start", c.startedNs!));
    }
    return { ids, lastEventAtMs: await this.#sendChunks(chunks, batch) };
  }

  #addContainer(createdNs: bigint): SyntheticContainer {
    const c = syntheticContainer(this.#nextNumber++, createdNs);
    this.containers.set(c.id, c);
    this.#listCache = undefined;
    return c;
  }

  #changed(c: SyntheticContainer): void {
    c.inspectJson = undefined;
    c.listJson = undefined;
    this.#listCache = undefined;
  }

  async #sendChunks(chunks: string[], batch: number): Promise<number> {
    for (let i = 0; i < chunks.length; i += batch) {
      const bytes = encoder.encode(chunks.slice(i, i + batch).join(""));
      for (const conn of this.#eventStreams) {
        try {
          await writeAll(conn, bytes);
        } catch {
          this.#eventStreams.delete(conn);
        }
      }
    }
    return performance.now();
  }

  async #accept(listener: Deno.Listener): Promise<void> {
    try {
      for await (const conn of listener) {
        this.#conns.add(conn);
        this.counters.maxConnections = Math.max(this.counters.maxConnections, this.#conns.size);
        void this.#serve(conn);
      }
    } catch { /* listener closed */ }
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    const buffer = new Uint8Array(16 * 1024);
    let pending = "";
    try {
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) break;
        pending += decoder.decode(buffer.subarray(0, n));
        let end;
        while ((end = pending.indexOf("\r\n\r\n")) >= 0) {
          const head = pending.slice(0, end);
          pending = pending.slice(end + 4);
          const [method, target] = head.split("\r\n", 1)[0].split(" ");
          const close = /\r\nconnection:\s*close/i.test(head);
          if (await this.#answer(conn, method, target, close) === "stream") return;
          if (close) throw new Error("closed by request");
        }
      }
    } catch { /* peer went away, or asked to close */ }
    this.#conns.delete(conn);
    this.#eventStreams.delete(conn);
    safeClose(conn);
  }

  async #answer(conn: Deno.Conn, method: string, target: string, close: boolean): Promise<"stream" | "done"> {
    // Go's server, like dockerd, also takes the absolute form `http://docker/v1.41/info` that proxies send.
    const path = target.replace(/^https?:\/\/[^/]+/, "").replace(/^\/v\d+\.\d+/, "").split("?")[0];
    const inspect = /^\/containers\/([^/]+)\/json$/.exec(path);
    const operation = path === "/version"
      ? "version"
      : path === "/info"
      ? "info"
      : path === "/_ping"
      ? "ping"
      : path === "/containers/json"
      ? "list"
      : path === "/events"
      ? "events"
      : inspect
      ? "inspect"
      : "other";
    this.counters.requests.set(operation, (this.counters.requests.get(operation) ?? 0) + 1);
    if (method !== "GET" && method !== "HEAD") {
      await this.#write(conn, 405, json({ message: "the synthetic engine is read-only" }), close);
      return "done";
    }
    this.#inFlight++;
    this.counters.maxInFlight = Math.max(this.counters.maxInFlight, this.#inFlight);
    try {
      switch (operation) {
        case "version":
          await this.#write(
            conn,
            200,
            json({
              Platform: { Name: "Synthetic Engine" },
              Version: "20.10.24-synthetic",
              ApiVersion: "1.41",
              MinAPIVersion: "1.12",
              GitCommit: "5d6db84",
              GoVersion: "go1.19.8",
              Os: "linux",
              Arch: "amd64",
              KernelVersion: "6.1.0-synthetic",
              BuildTime: "2023-05-18T18:16:13.000000000+00:00",
            }),
            close,
          );
          return "done";
        case "info":
          await this.#write(
            conn,
            200,
            json({
              Name: "synthetic-host",
              NCPU: 8,
              MemTotal: 33_554_432_000,
              Containers: this.containers.size,
              ServerVersion: "20.10.24-synthetic",
            }),
            close,
          );
          return "done";
        case "ping":
          await this.#write(conn, 200, encoder.encode("OK"), close, "text/plain; charset=utf-8");
          return "done";
        case "list":
          this.#listCache ??= encoder.encode(
            "[" + Array.from(this.containers.values(), (c) => (c.listJson ??= listEntry(c))).join(",") + "]\n",
          );
          await this.#write(conn, 200, this.#listCache, close);
          return "done";
        case "inspect": {
          if (this.#inspectDelayMs > 0) await new Promise((r) => setTimeout(r, this.#inspectDelayMs));
          const id = decodeURIComponent(inspect![1]);
          const c = this.containers.get(id);
          if (c) await this.#write(conn, 200, c.inspectJson ??= json(inspectDocument(c)), close);
          else await this.#write(conn, 404, json({ message: `No such container: ${id}` }), close);
          this.counters.lastInspectAtMs = performance.now();
          return "done";
        }
        case "events":
          await writeAll(
            conn,
            encoder.encode(
              "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\nDocker-Experimental: false\r\n" +
                "Ostype: linux\r\nServer: Docker/20.10.24 (linux)\r\nTransfer-Encoding: chunked\r\n\r\n",
            ),
          );
          this.#eventStreams.add(conn);
          return "stream";
        default:
          await this.#write(conn, 404, json({ message: "page not found" }), close);
          return "done";
      }
    } finally {
      this.#inFlight--;
    }
  }

  async #write(
    conn: Deno.Conn,
    status: number,
    body: Uint8Array,
    close: boolean,
    contentType = "application/json",
  ): Promise<void> {
    const head = `HTTP/1.1 ${status} ${status === 200 ? "OK" : "Error"}\r\nApi-Version: 1.41\r\n` +
      `Content-Type: ${contentType}\r\nDocker-Experimental: false\r\nOstype: linux\r\n` +
      `Server: Docker/20.10.24 (linux)\r\nDate: ${new Date().toUTCString()}\r\nContent-Length: ${body.length}\r\n` +
      (close ? "Connection: close\r\n" : "") + "\r\n";
    const headBytes = encoder.encode(head);
    const out = new Uint8Array(headBytes.length + body.length);
    out.set(headBytes);
    out.set(body, headBytes.length);
    await writeAll(conn, out);
  }
}

function json(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value) + "\n");
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length;) offset += await conn.write(bytes.subarray(offset));
}

function safeClose(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}

async function runAlone(args: string[]): Promise<void> {
  const option = (name: string) => {
    const at = args.indexOf(name);
    return at >= 0 ? args[at + 1] : undefined;
  };
  const engine = await SyntheticEngine.start({
    containers: Number(option("--containers") ?? 1000),
    path: option("--socket"),
    inspectDelayMs: Number(option("--inspect-delay-ms") ?? 0),
  });
  console.log(`synthetic engine with ${engine.containers.size} containers at ${engine.url} (pid ${Deno.pid})`);
  Deno.addSignalListener("SIGUSR1", async () => {
    const ids = Array.from(engine.containers.keys()).slice(0, 1000);
    await engine.restartBurst(ids);
    console.log(`sent ${ids.length * 5} events`);
  });
  await new Promise<void>((resolve) => {
    Deno.addSignalListener("SIGINT", () => resolve());
    Deno.addSignalListener("SIGTERM", () => resolve());
  });
  console.log("requests:", Object.fromEntries(engine.counters.requests));
  engine.close();
}

if (import.meta.main) await runAlone(Deno.args);
