/**
 * The cgroup reader: its pure parsers, the layout and path resolution, and whole readings of the fixture
 * trees in tests/testdata/cgroup (v1 cgroupfs and systemd copied from a real host; v2 cgroupfs and systemd
 * in the kernel's documented formats; see the README there).
 */
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import {
  cgroupCandidates,
  DENO_FILE_SYSTEM,
  type FileSystem,
  isGone,
  layoutFromRootEntries,
  limitValue,
  openCgroupReader,
  parseIoStat,
  parseKeyedValues,
  parseMaxOpenFiles,
  parseNetDev,
  parseNumber,
  parsePartitions,
  parsePressure,
  parseProcCgroup,
  parseV1Blkio,
} from "../../../lib/resources/cgroup_reader.ts";
import type { ContainerUsage } from "../../../lib/resources/usage.ts";

const FIXTURES = fileURLToPath(new URL("../../testdata/cgroup/", import.meta.url));

/** The ids and init pids in the fixture trees. */
const V1_CGROUPFS = { id: "32dbcb97cf6becc7460615dbf2d5eacd678ab9aac353d5b8d7d7076d07a570c2", pid: 21153 };
const V1_SYSTEMD = { id: "aff6f611e7e27b0f786f9345bbee0fb6b48cc9cdbdb15e200ba137edfc29166c", pid: 21276 };
const V2_CGROUPFS = { id: "3b48c32a5faf7bd129b2722a8ee23ca75c4274f64b4ab53114a229f02a5f76cc", pid: 4242 };
const V2_CUSTOM_PARENT = { id: "1a0eb97a5dc92b2e1218da4f096c2f7340a8e72494bc8f415a1bc40135ca4d76", pid: 4300 };
const V2_SYSTEMD = { id: "09a99e66f9095631316e315077353e59a29164f37ecc00032c1938dbb8ce90e0", pid: 5151 };
const V1_PROCESSES = { id: "3f6861895479fa576677ad732608bb317e254a3d6d870874c77a035b6376f04f", pid: 4319 };

function open(tree: string, fs: FileSystem = DENO_FILE_SYSTEM, onWarning?: (message: string) => void) {
  const reader = openCgroupReader({
    fs,
    cgroupRoot: `${FIXTURES}${tree}/cgroup`,
    procRoot: `${FIXTURES}${tree}/proc`,
    onWarning,
  });
  return reader;
}

function readOne(tree: string, target: { id: string; pid: number }): ContainerUsage | undefined {
  return readOneWith(tree, DENO_FILE_SYSTEM, target);
}

function readOneWith(tree: string, fs: FileSystem, target: { id: string; pid: number }): ContainerUsage | undefined {
  const reader = open(tree, fs);
  reader.beginCycle(new Set([target.id]));
  return reader.read(target.id, target.pid);
}

const zeroNet = { receiveErrors: 0, receiveDropped: 0, transmitErrors: 0, transmitDropped: 0 };

/** The memory.stat figures that are 0 in every fixture but v2_cgroupfs's. */
const NO_WRITEBACK_OR_REFAULTS = { dirtyBytes: 0, writebackBytes: 0, refaultsFile: 0, refaultsAnon: 0 };

Deno.test("parseNetDev() reads every interface's receive and transmit counters", () => {
  const text = "Inter-|   Receive                                                |  Transmit\n" +
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n" +
    "  eth0: 1043521    9874    3    2    0     0          0         0   734210    6521    1    4    0     0       0          0\n" +
    "    lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0\n";
  assert.deepEqual(parseNetDev(text), [
    {
      interface: "eth0",
      receiveBytes: 1043521,
      receivePackets: 9874,
      receiveErrors: 3,
      receiveDropped: 2,
      transmitBytes: 734210,
      transmitPackets: 6521,
      transmitErrors: 1,
      transmitDropped: 4,
    },
    { interface: "lo", receiveBytes: 100, receivePackets: 2, transmitBytes: 100, transmitPackets: 2, ...zeroNet },
  ]);
});

Deno.test("parsePartitions() maps major:minor to device names", () => {
  const text = "major minor  #blocks  name\n\n   8        0  104857600 sda\n 253        0   52428800 dm-0\n";
  assert.deepEqual([...parsePartitions(text)], [["8:0", "sda"], ["253:0", "dm-0"]]);
});

Deno.test("parseV1Blkio() sums Read and Write per device, and keeps every operation's bytes", () => {
  const bytes = "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 12288\n8:0 Async 0\n8:0 Discard 0\n8:0 Total 12288\n" +
    "8:16 Read 1\n8:16 Write 2\n8:16 Total 3\nTotal 12291\n";
  const ios = "8:0 Read 1\n8:0 Write 2\n8:0 Total 3\n8:16 Read 5\n8:16 Write 6\nTotal 14\n";
  assert.deepEqual(parseV1Blkio(bytes, ios, new Map([["8:0", "sda"]])), [
    {
      device: "/dev/sda",
      major: 8,
      minor: 0,
      readBytes: 4096,
      writeBytes: 8192,
      reads: 1,
      writes: 2,
      bytesByOperation: { Read: 4096, Write: 8192, Sync: 12288, Async: 0, Discard: 0, Total: 12288 },
    },
    {
      device: "8:16",
      major: 8,
      minor: 16,
      readBytes: 1,
      writeBytes: 2,
      reads: 5,
      writes: 6,
      bytesByOperation: { Read: 1, Write: 2, Total: 3 },
    },
  ]);
  assert.deepEqual(parseV1Blkio("Total 0\n", "Total 0\n", new Map()), []);
});

Deno.test("parseIoStat() reads rbytes, wbytes, rios and wios per device, and iocost's figures where they are", () => {
  const text = "8:0 rbytes=1048576 wbytes=33554432 rios=24 wios=512 dbytes=0 dios=0 cost.vrate=100.00 " +
    "cost.usage=2500000 cost.wait=125000 cost.indebt=0 cost.indelay=40000\n253:0 rbytes=4096 wbytes=0 rios=1 wios=0\n";
  assert.deepEqual(parseIoStat(text, new Map([["253:0", "dm-0"]])), [
    {
      device: "8:0",
      major: 8,
      minor: 0,
      readBytes: 1048576,
      writeBytes: 33554432,
      reads: 24,
      writes: 512,
      bytesByOperation: { Read: 1048576, Write: 33554432 },
      cost: { usageSeconds: 2.5, waitSeconds: 0.125, indebtSeconds: 0, indelaySeconds: 0.04 },
    },
    {
      device: "/dev/dm-0",
      major: 253,
      minor: 0,
      readBytes: 4096,
      writeBytes: 0,
      reads: 1,
      writes: 0,
      bytesByOperation: { Read: 4096, Write: 0 },
    },
  ]);
  assert.deepEqual(parseIoStat("", new Map()), []);
});

Deno.test("parsePressure() reads the some and full totals in seconds; without full that is 0", () => {
  const text =
    "some avg10=1.25 avg60=0.80 avg300=0.33 total=2500000\nfull avg10=0.50 avg60=0.20 avg300=0.10 total=750000\n";
  assert.deepEqual(parsePressure(text), { waitingSeconds: 2.5, stalledSeconds: 0.75 });
  assert.deepEqual(parsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=42\n"), {
    waitingSeconds: 0.000042,
    stalledSeconds: 0,
  });
  assert.equal(parsePressure(""), undefined);
});

Deno.test("parseMaxOpenFiles() reads the soft limit on open files of /proc/<pid>/limits; unlimited is -1", () => {
  const limits = (soft: string) =>
    "Limit                     Soft Limit           Hard Limit           Units     \n" +
    "Max processes             unlimited            unlimited            processes \n" +
    `Max open files            ${soft.padEnd(21)}1048576              files     \n`;
  assert.equal(parseMaxOpenFiles(limits("1024")), 1024);
  assert.equal(parseMaxOpenFiles(limits("unlimited")), -1);
  assert.equal(parseMaxOpenFiles("Limit Soft Limit Hard Limit Units\n"), undefined);
});

Deno.test("parseKeyedValues(), parseNumber() and limitValue() read flat files and limits", () => {
  assert.deepEqual([...parseKeyedValues("user 160\nsystem 5\n\nbroken\n")], [["user", 160], ["system", 5]]);
  assert.equal(parseNumber("1654429389\n"), 1654429389);
  assert.equal(parseNumber("max\n"), Infinity);
  assert.throws(() => parseNumber("abc"), /not a number/);
  assert.throws(() => parseNumber(""), /not a number/);
  assert.equal(limitValue(Infinity), 0);
  assert.equal(limitValue(9223372036854771712), 0, "cgroup v1's unlimited memory");
  assert.equal(limitValue(67108864), 67108864);
});

Deno.test("parseProcCgroup() maps every controller, shared ones too, and the v2 line under the empty key", () => {
  const paths = parseProcCgroup("4:cpu,cpuacct:/system.slice/docker-ab.scope\n2:rdma:/\n1:name=systemd:/x\n0::/y\n");
  assert.deepEqual([...paths], [
    ["cpu", "/system.slice/docker-ab.scope"],
    ["cpuacct", "/system.slice/docker-ab.scope"],
    ["rdma", "/"],
    ["name=systemd", "/x"],
    ["", "/y"],
  ]);
});

Deno.test("layoutFromRootEntries() tells v2, v1, shared v1 controllers and hybrid hosts apart", () => {
  assert.deepEqual(layoutFromRootEntries(["cgroup.controllers", "cgroup.procs", "system.slice"]), { version: 2 });
  assert.deepEqual(layoutFromRootEntries(["blkio", "cpu", "cpuacct", "memory", "pids", "systemd", "unified"]), {
    version: 1,
    dirs: { cpu: "cpu", cpuacct: "cpuacct", memory: "memory", blkio: "blkio", pids: "pids" },
  });
  assert.deepEqual(layoutFromRootEntries(["blkio", "cpu,cpuacct", "memory", "net_cls,net_prio"]), {
    version: 1,
    dirs: { cpu: "cpu,cpuacct", cpuacct: "cpu,cpuacct", memory: "memory", blkio: "blkio" },
  });
  assert.equal(layoutFromRootEntries(["etc", "usr"]), undefined);
});

Deno.test("cgroupCandidates() tries the path from /proc first, unless it is from another cgroup namespace", () => {
  const id = "ab".repeat(32);
  const v2 = { version: 2 } as const;
  const layouts = [`/docker/${id}`, `/system.slice/docker-${id}.scope`];
  assert.deepEqual(cgroupCandidates(id, v2), layouts);
  assert.deepEqual(cgroupCandidates(id, v2, new Map([["", `/ci/${id}`]])), [`/ci/${id}`, ...layouts]);
  assert.deepEqual(cgroupCandidates(id, v2, new Map([["", `/../docker-${id}.scope`]])), layouts);
  assert.deepEqual(cgroupCandidates(id, v2, new Map([["", "/"]])), layouts, "a path without the id");
  const v1 = { version: 1, dirs: {} } as const;
  assert.deepEqual(cgroupCandidates(id, v1, new Map([["memory", `/docker/${id}`], ["", "/"]])), layouts);
});

Deno.test("CgroupReader reads a cgroup v1 cgroupfs container copied from a real host", () => {
  const reader = open("v1_cgroupfs");
  assert.equal(reader.versionName, "v1");
  reader.beginCycle(new Set([V1_CGROUPFS.id]));
  assert.deepEqual(reader.read(V1_CGROUPFS.id, V1_CGROUPFS.pid), {
    cpu: {
      totalSeconds: 1.654429389,
      userSeconds: 1.6,
      systemSeconds: 0.05,
      periods: 34,
      throttledPeriods: 30,
      throttledSeconds: 1.257939191,
      bursts: 0,
      burstSeconds: 0,
    },
    // No memory.max_usage_in_bytes or memory.kmem.usage_in_bytes were copied: those two are left out.
    memory: {
      usageBytes: 13811712,
      workingSetBytes: 13811712 - 3407872,
      rssBytes: 5132288,
      cacheBytes: 8388608,
      failcnt: 0,
      oomKills: 0,
      swapBytes: 0,
      mappedFileBytes: 0,
      activeFileBytes: 4980736,
      inactiveFileBytes: 3407872,
      pageFaults: 4076,
      majorPageFaults: 0,
      ...NO_WRITEBACK_OR_REFAULTS,
    },
    network: [{
      interface: "lo",
      receiveBytes: 100,
      receivePackets: 2,
      transmitBytes: 100,
      transmitPackets: 2,
      ...zeroNet,
    }],
    blockIo: [{
      device: "/dev/vda",
      major: 254,
      minor: 0,
      readBytes: 8388608,
      writeBytes: 8388608,
      reads: 8,
      writes: 16,
      bytesByOperation: { Read: 8388608, Write: 8388608, Sync: 16777216, Async: 0, Discard: 0, Total: 16777216 },
    }],
    tasks: 1,
    tasksLimit: 50,
    // No /proc/<pid>/fd or limits were copied: the processes are counted, their files are unknown.
    processes: { count: 1 },
  });
});

Deno.test("CgroupReader reads a cgroup v1 systemd container under a shared cpu,cpuacct directory", () => {
  assert.deepEqual(readOne("v1_systemd", V1_SYSTEMD), {
    cpu: {
      totalSeconds: 0.031232478,
      userSeconds: 0.03,
      systemSeconds: 0,
      periods: 0,
      throttledPeriods: 0,
      throttledSeconds: 0,
      bursts: 0,
      burstSeconds: 0,
    },
    memory: {
      usageBytes: 475136,
      workingSetBytes: 475136,
      rssBytes: 114688,
      cacheBytes: 0,
      failcnt: 0,
      oomKills: 0,
      swapBytes: 0,
      mappedFileBytes: 0,
      activeFileBytes: 0,
      inactiveFileBytes: 0,
      pageFaults: 1345,
      majorPageFaults: 0,
      ...NO_WRITEBACK_OR_REFAULTS,
    },
    network: [{
      interface: "lo",
      receiveBytes: 200,
      receivePackets: 4,
      transmitBytes: 200,
      transmitPackets: 4,
      ...zeroNet,
    }],
    blockIo: [{
      device: "/dev/vda",
      major: 254,
      minor: 0,
      readBytes: 0,
      writeBytes: 262144,
      reads: 0,
      writes: 64,
      bytesByOperation: { Read: 0, Write: 262144, Sync: 262144, Async: 0, Discard: 0, Total: 262144 },
    }],
    tasks: 2,
    tasksLimit: 0,
    processes: { count: 2 },
  });
});

Deno.test("CgroupReader reads a cgroup v2 cgroupfs container: CFS, memory, pressure, io.stat, processes, eth0 and lo", () => {
  const reader = open("v2_cgroupfs");
  assert.equal(reader.versionName, "v2");
  reader.beginCycle(new Set([V2_CGROUPFS.id]));
  assert.deepEqual(reader.read(V2_CGROUPFS.id, V2_CGROUPFS.pid), {
    cpu: {
      totalSeconds: 8.123456,
      userSeconds: 6.1,
      systemSeconds: 2.023456,
      periods: 812,
      throttledPeriods: 97,
      throttledSeconds: 4.56789,
      bursts: 3,
      burstSeconds: 0.15,
    },
    memory: {
      usageBytes: 157286400,
      workingSetBytes: 157286400 - 20971520,
      rssBytes: 104857600,
      cacheBytes: 41943040,
      failcnt: 12,
      oomKills: 1,
      highEvents: 5,
      maxEvents: 12,
      maxUsageBytes: 188743680,
      swapBytes: 4194304,
      kernelBytes: 5242880,
      mappedFileBytes: 8388608,
      activeFileBytes: 20971520,
      inactiveFileBytes: 20971520,
      pageFaults: 120034,
      majorPageFaults: 12,
      pagesScanned: 0,
      pagesStolen: 0,
      ...NO_WRITEBACK_OR_REFAULTS,
    },
    network: [
      {
        interface: "eth0",
        receiveBytes: 1043521,
        receivePackets: 9874,
        receiveErrors: 0,
        receiveDropped: 2,
        transmitBytes: 734210,
        transmitPackets: 6521,
        transmitErrors: 1,
        transmitDropped: 0,
      },
      { interface: "lo", receiveBytes: 5120, receivePackets: 64, transmitBytes: 5120, transmitPackets: 64, ...zeroNet },
    ],
    blockIo: [
      {
        device: "/dev/sda",
        major: 8,
        minor: 0,
        readBytes: 1048576,
        writeBytes: 33554432,
        reads: 24,
        writes: 512,
        bytesByOperation: { Read: 1048576, Write: 33554432 },
        cost: { usageSeconds: 2.5, waitSeconds: 0.125, indebtSeconds: 0, indelaySeconds: 0.04 },
      },
      {
        device: "/dev/dm-0",
        major: 253,
        minor: 0,
        readBytes: 4096,
        writeBytes: 0,
        reads: 1,
        writes: 0,
        bytesByOperation: { Read: 4096, Write: 0 },
      },
    ],
    tasks: 7,
    tasksLimit: 512,
    pressure: {
      cpu: { waitingSeconds: 2.5, stalledSeconds: 0.75 },
      memory: { waitingSeconds: 0.12, stalledSeconds: 0.08 },
      io: { waitingSeconds: 3.4, stalledSeconds: 1.7 },
    },
    // Two processes: 5 and 6 descriptors, 1 and 2 of them sockets; the init process's soft limit on open files.
    processes: { count: 2, fds: 11, sockets: 3, maxOpenFiles: 1048576 },
  });
});

Deno.test("CgroupReader finds a container under a custom cgroup parent through /proc/<pid>/cgroup only", () => {
  const reader = open("v2_cgroupfs");
  reader.beginCycle(new Set([V2_CUSTOM_PARENT.id]));
  // Without its pid there is nothing to say where it is: neither Docker layout has it.
  assert.equal(reader.read(V2_CUSTOM_PARENT.id, 0), undefined);
  // Memory and io are not enabled for that subtree, and the process has no /proc entry: those parts are left out.
  assert.deepEqual(reader.read(V2_CUSTOM_PARENT.id, V2_CUSTOM_PARENT.pid), {
    cpu: { totalSeconds: 0.25, userSeconds: 0.2, systemSeconds: 0.05 },
    network: [],
    blockIo: [],
    tasks: 1,
    tasksLimit: 0,
    processes: { count: 1 },
  });
});

Deno.test("CgroupReader falls back to the systemd layout when /proc/<pid>/cgroup is from another namespace", () => {
  assert.deepEqual(readOne("v2_systemd", V2_SYSTEMD), {
    cpu: { totalSeconds: 1.5, userSeconds: 1, systemSeconds: 0.5 },
    // inactive_file exceeds memory.current in this fixture: the working set is floored at 0, as cAdvisor does.
    memory: {
      usageBytes: 52428800,
      workingSetBytes: 0,
      rssBytes: 31457280,
      cacheBytes: 16777216,
      failcnt: 0,
      oomKills: 0,
      highEvents: 0,
      maxEvents: 0,
      kernelBytes: 2097152,
      mappedFileBytes: 0,
      activeFileBytes: 4194304,
      inactiveFileBytes: 62914560,
      pageFaults: 5021,
      majorPageFaults: 0,
      pagesScanned: 0,
      pagesStolen: 0,
      ...NO_WRITEBACK_OR_REFAULTS,
    },
    network: [{
      interface: "lo",
      receiveBytes: 0,
      receivePackets: 0,
      transmitBytes: 0,
      transmitPackets: 0,
      ...zeroNet,
    }],
    blockIo: [],
    tasks: 3,
    tasksLimit: 0,
    // No pressure files (a kernel booted with psi=0), no memory.peak (before Linux 5.19), no swap accounting.
    processes: { count: 1 },
  });
});

Deno.test("CgroupReader counts a v1 container's processes, open files and sockets, copied from a real host", () => {
  const usage = readOne("v1_cgroupfs_processes", V1_PROCESSES);
  // sleep (the init process, holding /etc/hostname open) and two nc -l, each with a listening socket.
  assert.deepEqual(usage?.processes, { count: 3, fds: 12, sockets: 2, maxOpenFiles: 20000 });
  assert.equal(usage?.tasks, 3);
  assert.deepEqual(usage?.memory, {
    usageBytes: 589824,
    workingSetBytes: 589824,
    rssBytes: 155648,
    cacheBytes: 0,
    failcnt: 0,
    oomKills: 0,
    maxUsageBytes: 4079616,
    kernelBytes: 434176,
    swapBytes: 0,
    mappedFileBytes: 0,
    activeFileBytes: 0,
    inactiveFileBytes: 0,
    pageFaults: 1326,
    majorPageFaults: 0,
    ...NO_WRITEBACK_OR_REFAULTS,
  });
  assert.deepEqual(usage?.cpu, {
    totalSeconds: 0.373608574,
    userSeconds: 0.36,
    systemSeconds: 0,
    periods: 10,
    throttledPeriods: 6,
    throttledSeconds: 0.2780603,
    bursts: 0,
    burstSeconds: 0,
  });
});

Deno.test("CgroupReader leaves file descriptors and sockets unknown when /proc/<pid>/fd is refused, and says so once", () => {
  const warnings: string[] = [];
  const refused: FileSystem = {
    ...DENO_FILE_SYSTEM,
    readDir: (path) => {
      if (path.endsWith("/fd")) throw new Deno.errors.PermissionDenied(`Permission denied (os error 13): ${path}`);
      return DENO_FILE_SYSTEM.readDir(path);
    },
  };
  const reader = open("v1_cgroupfs_processes", refused, (message) => warnings.push(message));
  for (let i = 0; i < 2; i++) {
    reader.beginCycle(new Set([V1_PROCESSES.id]));
    assert.deepEqual(reader.read(V1_PROCESSES.id, V1_PROCESSES.pid)?.processes, { count: 3, maxOpenFiles: 20000 });
  }
  assert.deepEqual(warnings, ["no container_file_descriptors or container_sockets: cannot read /proc/<pid>/fd"]);

  // A process that exits between cgroup.procs and its fd directory, or a descriptor closed meanwhile, is not counted.
  const exiting: FileSystem = {
    ...DENO_FILE_SYSTEM,
    readDir: (path) => {
      if (path.includes("/4349/fd")) throw new Deno.errors.NotFound(path);
      return DENO_FILE_SYSTEM.readDir(path);
    },
    readLink: (path) => {
      if (path.endsWith("/4350/fd/3")) throw new Deno.errors.NotFound(path);
      return DENO_FILE_SYSTEM.readLink(path);
    },
  };
  const usage = readOneWith("v1_cgroupfs_processes", exiting, V1_PROCESSES);
  assert.deepEqual(usage?.processes, { count: 3, fds: 8, sockets: 0, maxOpenFiles: 20000 });
});

Deno.test("CgroupReader returns undefined for a container that is not there, in every layout", () => {
  for (const tree of ["v1_cgroupfs", "v1_systemd", "v2_cgroupfs", "v2_systemd"]) {
    assert.equal(readOne(tree, { id: "f".repeat(64), pid: 999999 }), undefined, tree);
  }
});

Deno.test("CgroupReader skips a container whose cgroup disappears between collections", async () => {
  const root = await Deno.makeTempDir({ prefix: "dexp-cgroup-" });
  try {
    await copyTree(`${FIXTURES}v1_cgroupfs`, root);
    const reader = openCgroupReader({ fs: DENO_FILE_SYSTEM, cgroupRoot: `${root}/cgroup`, procRoot: `${root}/proc` });
    reader.beginCycle(new Set([V1_CGROUPFS.id]));
    assert.equal(reader.read(V1_CGROUPFS.id, V1_CGROUPFS.pid)?.tasks, 1);
    // The engine removes the container's cgroup directories (one controller first, as happens mid-collection).
    await Deno.remove(`${root}/cgroup/cpuacct/docker/${V1_CGROUPFS.id}`, { recursive: true });
    reader.beginCycle(new Set([V1_CGROUPFS.id]));
    assert.equal(reader.read(V1_CGROUPFS.id, V1_CGROUPFS.pid), undefined);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("CgroupReader throws for a file that is there but unreadable, and leaves network out when /proc is", () => {
  const warnings: string[] = [];
  const garbled: FileSystem = {
    readDir: (path) => DENO_FILE_SYSTEM.readDir(path),
    readLink: (path) => DENO_FILE_SYSTEM.readLink(path),
    readTextFile: (path) => {
      if (path.includes("/proc/")) throw new Deno.errors.NotCapable(`Requires all access to "${path}"`);
      return path.endsWith("pids.current") ? "garbage\n" : DENO_FILE_SYSTEM.readTextFile(path);
    },
  };
  const reader = open("v1_systemd", garbled, (message) => warnings.push(message));
  reader.beginCycle(new Set([V1_SYSTEMD.id]));
  assert.throws(() => reader.read(V1_SYSTEMD.id, V1_SYSTEMD.pid), /not a number/);

  const noProc: FileSystem = {
    readDir: garbled.readDir,
    readLink: garbled.readLink,
    readTextFile: (path) => path.endsWith("pids.current") ? "2\n" : garbled.readTextFile(path),
  };
  const second = open("v1_systemd", noProc, (message) => warnings.push(message));
  second.beginCycle(new Set([V1_SYSTEMD.id]));
  // The systemd layout is found without /proc/<pid>/cgroup; devices keep major:minor without /proc/partitions.
  for (let i = 0; i < 2; i++) {
    const usage = second.read(V1_SYSTEMD.id, V1_SYSTEMD.pid);
    assert.deepEqual(usage?.network, []);
    assert.deepEqual(usage?.blockIo.map((io) => io.device), ["254:0"]);
  }
  assert.deepEqual(warnings, [
    "block devices are labelled major:minor: cannot read their names",
    "block devices are labelled major:minor: cannot read their names",
    "no network metrics: cannot read /proc/<pid>/net/dev",
    "no container_ulimits_soft: cannot read /proc/<pid>/limits",
  ]);
});

Deno.test("openCgroupReader() says why a root cannot be used", async () => {
  const missing = `${FIXTURES}no-such-root`;
  assert.throws(
    () => openCgroupReader({ fs: DENO_FILE_SYSTEM, cgroupRoot: missing, procRoot: "/proc" }),
    (error: Error) => error.message.startsWith(`Cannot read the cgroup root ${missing}: `),
  );
  const denied: FileSystem = {
    readTextFile: () => "",
    readLink: () => "",
    readDir: (path) => {
      throw new Deno.errors.NotCapable(`Requires all access to "${path}", run again with the --allow-all flag`);
    },
  };
  assert.throws(
    () => openCgroupReader({ fs: denied, cgroupRoot: "/sys/fs/cgroup", procRoot: "/proc" }),
    // Not Deno's own advice, which cannot help under /sys: what does.
    /Cannot read the cgroup root \/sys\/fs\/cgroup: not granted to read it, and Deno lets a program read \/sys and \/proc only with --allow-all; mount the host's \/sys\/fs\/cgroup and \/proc elsewhere/,
  );
  const notCgroup = await Deno.makeTempDir({ prefix: "dexp-cgroup-" });
  try {
    assert.throws(
      () => openCgroupReader({ fs: DENO_FILE_SYSTEM, cgroupRoot: notCgroup, procRoot: "/proc" }),
      new RegExp(`${notCgroup} is not a cgroup root`),
    );
  } finally {
    await Deno.remove(notCgroup);
  }
});

Deno.test("isGone() is true for a missing file, a removed cgroup (ENODEV) and an exited process (ESRCH) only", () => {
  assert.equal(isGone(new Deno.errors.NotFound("x")), true);
  assert.equal(isGone(new Error("No such device (os error 19)")), true);
  assert.equal(isGone(new Error("No such process (os error 3)")), true);
  assert.equal(isGone(new Deno.errors.PermissionDenied("Permission denied (os error 13)")), false);
  assert.equal(isGone(new Deno.errors.NotCapable("Requires all access")), false);
});

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.isDirectory) await copyTree(`${from}/${entry.name}`, `${to}/${entry.name}`);
    else await Deno.copyFile(`${from}/${entry.name}`, `${to}/${entry.name}`);
  }
}
