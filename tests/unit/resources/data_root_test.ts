/**
 * The data root's file system: statfs turned into cAdvisor's figures, the device named from mountinfo as cAdvisor
 * names it (or `major:minor` without it), which path is read (configured, else the engine's own when it is local), and
 * paths that cannot be read. The file system is scripted; the last test reads this machine's own.
 */
import assert from "node:assert/strict";
import {
  DataRootReader,
  DENO_STAT_FILE_SYSTEM,
  majorMinor,
  mountDevice,
  type StatFileSystem,
} from "../../../lib/resources/data_root.ts";
import { createLogger, type Logger } from "../../../lib/shared/logger.ts";

function recordingLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const logger = createLogger("debug", (line) => out.push(line), () => 0);
  return { logger, lines: () => out.map((line) => JSON.parse(line)) };
}

/** A host's mountinfo: / and /var/lib/docker on vda (the second a bind mount as a container sees it), and more. */
const MOUNTINFO = [
  "27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard",
  "28 27 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw",
  "45 27 254:16 / /srv/big\\040disk rw,relatime shared:30 - xfs /dev/vdb rw",
  "112 27 254:0 /var/lib/docker /host/data-root ro,relatime - ext4 /dev/vda rw,discard",
  "113 27 0:52 / /var/lib/docker/overlay2/x/merged rw,relatime - overlay overlay rw,lowerdir=/a:/b",
].join("\n") + "\n";

/** 254:0 as st_dev encodes it. */
const VDA = 254 * 256;

Deno.test("majorMinor() decodes st_dev as glibc does, large numbers included", () => {
  assert.equal(majorMinor(VDA), "254:0");
  assert.equal(majorMinor(8 * 256 + 1), "8:1");
  // major 259, minor 300: the high bits of the minor sit above bit 20.
  assert.equal(majorMinor(Number((259n << 8n) | (300n & 0xffn) | ((300n & ~0xffn) << 12n))), "259:300");
});

Deno.test("mountDevice() names the mount source of the device, from the mount that holds the path most closely", () => {
  assert.equal(mountDevice(MOUNTINFO, VDA, "/host/data-root"), "/dev/vda");
  assert.equal(mountDevice(MOUNTINFO, VDA, "/var/lib/docker"), "/dev/vda");
  assert.equal(mountDevice(MOUNTINFO, 254 * 256 + 16, "/srv/big disk/docker"), "/dev/vdb");
  // Without mountinfo (Deno reads /proc only under --allow-all), or without a line for the device: major:minor.
  assert.equal(mountDevice(undefined, VDA, "/var/lib/docker"), "254:0");
  assert.equal(mountDevice(MOUNTINFO, 8 * 256, "/var/lib/docker"), "8:0");
});

/** A file system with one path, whose statfs and device are scripted; others are not there. */
function scriptedFs(path: string, options: { mountinfo?: string; denied?: boolean } = {}) {
  const calls: string[] = [];
  let ffree = 1000;
  const fs: StatFileSystem = {
    statfs: (p) => {
      calls.push(`statfs ${p}`);
      if (options.denied) return Promise.reject(new Deno.errors.NotCapable(`Requires read access to "${p}"`));
      if (p !== path) return Promise.reject(Object.assign(new Error(`ENOENT: statfs '${p}'`), { code: "ENOENT" }));
      return Promise.resolve({ bsize: 4096, frsize: 4096, blocks: 1_000_000, files: 65_536, ffree: ffree-- });
    },
    deviceNumber: (p) => p === path ? Promise.resolve(VDA) : Promise.reject(new Deno.errors.NotFound(p)),
    realPath: (p) => Promise.resolve(p),
    readTextFile: (p) => {
      calls.push(`read ${p}`);
      return options.mountinfo === undefined
        ? Promise.reject(new Deno.errors.NotCapable(`Requires all access to "${p}"`))
        : Promise.resolve(options.mountinfo);
    },
  };
  return { fs, calls };
}

Deno.test("DataRootReader reads the configured path's size and inodes, naming the device once", async () => {
  const { fs, calls } = scriptedFs("/host/data-root", { mountinfo: MOUNTINFO });
  const reader = new DataRootReader({
    configured: "/host/data-root",
    engineDataRoot: () => "/var/lib/docker",
    remoteEngine: false,
    procRoot: "/host/proc",
    fs,
    logger: recordingLogger().logger,
  });
  await reader.read();
  assert.deepEqual(reader.reading, { device: "/dev/vda", sizeBytes: 4_096_000_000, inodes: 65_536, inodesFree: 1000 });
  assert.equal(reader.generation, 1);
  await reader.read();
  assert.equal(reader.reading?.inodesFree, 999);
  assert.equal(reader.generation, 2);
  assert.deepEqual(calls, ["statfs /host/data-root", "read /host/proc/self/mountinfo", "statfs /host/data-root"]);
});

Deno.test("DataRootReader reads the engine's DockerRootDir when nothing is configured, only for a local engine", async () => {
  const local = new DataRootReader({
    configured: undefined,
    engineDataRoot: () => "/var/lib/docker",
    remoteEngine: false,
    procRoot: "/proc",
    fs: scriptedFs("/var/lib/docker").fs,
    logger: recordingLogger().logger,
  });
  await local.read();
  // mountinfo not readable: the device is major:minor.
  assert.equal(local.reading?.device, "254:0");
  const remote = new DataRootReader({
    configured: undefined,
    engineDataRoot: () => "/var/lib/docker",
    remoteEngine: true,
    procRoot: "/proc",
    fs: scriptedFs("/var/lib/docker").fs,
    logger: recordingLogger().logger,
  });
  await remote.read();
  assert.equal(remote.path, undefined);
  assert.equal(remote.reading, undefined);
  assert.equal(remote.generation, 0);
});

Deno.test("DataRootReader leaves a path it cannot read out, saying why once: a warning only for a configured one that is there", async () => {
  const found = recordingLogger();
  const unknown = new DataRootReader({
    configured: undefined,
    engineDataRoot: () => "/var/lib/docker",
    remoteEngine: false,
    procRoot: "/proc",
    fs: scriptedFs("/var/lib/docker", { denied: true }).fs,
    logger: found.logger,
  });
  await unknown.read();
  await unknown.read();
  assert.equal(unknown.reading, undefined);
  assert.deepEqual(found.lines().map((l) => [l.level, l.path, l.why]), [
    ["info", "/var/lib/docker", "Deno has not granted read access to /var/lib/docker and --allow-sys=statfs"],
  ]);
  const configured = recordingLogger();
  const missing = new DataRootReader({
    configured: "/host/data-root",
    engineDataRoot: () => "/var/lib/docker",
    remoteEngine: false,
    procRoot: "/proc",
    fs: scriptedFs("/var/lib/docker").fs,
    logger: configured.logger,
  });
  await missing.read();
  const denied = new DataRootReader({
    configured: "/var/lib/docker",
    engineDataRoot: () => undefined,
    remoteEngine: false,
    procRoot: "/proc",
    fs: scriptedFs("/var/lib/docker", { denied: true }).fs,
    logger: configured.logger,
  });
  await denied.read();
  assert.deepEqual(configured.lines().map((l) => [l.level, l.why]), [
    // The image sets EXPORTER_DATA_ROOT whether or not the data root is mounted there.
    [
      "info",
      "/host/data-root does not exist here: mount the engine's data root and set EXPORTER_DATA_ROOT to where it is",
    ],
    ["warn", "Deno has not granted read access to /var/lib/docker and --allow-sys=statfs"],
  ]);
});

Deno.test("DataRootReader drops its reading when statfs hangs (a file system gone away), saying so once", async () => {
  const { logger, lines } = recordingLogger();
  let hang = false;
  const reader = new DataRootReader({
    configured: "/srv/nfs",
    engineDataRoot: () => undefined,
    remoteEngine: false,
    procRoot: "/proc",
    fs: {
      ...scriptedFs("/srv/nfs").fs,
      statfs: () => hang ? new Promise(() => {}) : Promise.resolve({ bsize: 1024, blocks: 10, files: 5, ffree: 1 }),
    },
    logger,
    statfsTimeoutMs: 20,
  });
  await reader.read();
  assert.equal(reader.reading?.sizeBytes, 10_240);
  hang = true;
  await reader.read();
  assert.equal(reader.reading, undefined);
  assert.deepEqual(lines().map((l) => l.why), ["statfs of /srv/nfs took longer than 20 ms"]);
});

Deno.test({
  name: "DENO_STAT_FILE_SYSTEM reads this machine's root: statfs's figures and a device number",
  permissions: { read: ["/"], sys: ["statfs"] },
  fn: async () => {
    const stats = await DENO_STAT_FILE_SYSTEM.statfs("/");
    assert.ok(stats.blocks > 0 && stats.frsize! > 0 && stats.files >= stats.ffree, JSON.stringify(stats));
    assert.ok(await DENO_STAT_FILE_SYSTEM.deviceNumber("/") >= 0);
  },
});
