/**
 * Records the `GET /v1.41/system/df` answers the disk usage unit tests replay, from the real engines: Docker at
 * /var/run/docker.sock and Podman's Docker-compatible service (started on a socket of its own, as the integration
 * tests start it), each after making the workload of disk_usage_workload.ts (a container that wrote 3 MiB into its
 * writable layer and 2 MiB into a named volume, a second container on that volume, and a dangling image).
 *
 * - `tests/testdata/docker_system_df.json` and `tests/testdata/podman_system_df.json`: the answer, as the engine
 *   wrote it, with the entries of `Images`, `Containers` and `Volumes` cut down to the workload's own (others may use
 *   the same engine meanwhile). The fields of each entry, and their order, are the engine's.
 *
 * Run by hand, not by the test suite: `deno run --allow-all tests/support/record_disk_usage_fixtures.ts [out-dir]`
 * (default tests/testdata/). A new recording has new ids, names and sizes: update what
 * tests/unit/docker/disk_usage_test.ts pins.
 */
import { DOCKER_ENGINE, DOCKER_SOCKET } from "./docker.ts";
import { PodmanEngine } from "./engines.ts";
import type { ContainerEngine } from "./docker.ts";
import { makeDiskWorkload } from "./disk_usage_workload.ts";

const TESTDATA = new URL("../testdata/", import.meta.url);

/** `GET path` on a unix socket through curl; returns the body as the engine wrote it. */
async function get(socket: string, path: string): Promise<string> {
  const output = await new Deno.Command("curl", {
    args: ["-sS", "--fail", "--unix-socket", socket, `http://docker${path}`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  if (!output.success) throw new Error(`GET ${path} on ${socket} failed: ${decoder.decode(output.stderr)}`);
  return decoder.decode(output.stdout);
}

// deno-lint-ignore no-explicit-any
type Entry = Record<string, any>;

async function record(engine: ContainerEngine, socket: string, file: URL): Promise<void> {
  const workload = await makeDiskWorkload(engine, "dfrec");
  try {
    const answer = JSON.parse(await get(socket, "/v1.41/system/df"));
    const images = new Set([workload.danglingImage, workload.taggedImage]);
    const containers = new Set([workload.writer.id, workload.sharer.id]);
    answer.Images = (answer.Images ?? []).filter((image: Entry) => images.has(image.Id.replace(/^sha256:/, "")));
    answer.Containers = (answer.Containers ?? []).filter((container: Entry) => containers.has(container.Id));
    answer.Volumes = (answer.Volumes ?? []).filter((volume: Entry) => volume.Name === workload.volume);
    const kept = `${answer.Images.length} images, ${answer.Containers.length} containers, ${answer.Volumes.length}`;
    if (answer.Images.length !== 2 || answer.Containers.length !== 2 || answer.Volumes.length !== 1) {
      throw new Error(`the answer lacks some of the workload: ${kept} volumes`);
    }
    await Deno.writeTextFile(file, JSON.stringify(answer) + "\n");
    console.log(`${file.pathname}: ${kept} volume`);
  } finally {
    await workload.cleanup();
  }
}

if (import.meta.main) {
  const out = Deno.args[0] ? new URL(`file://${await Deno.realPath(Deno.args[0])}/`) : TESTDATA;
  await record(DOCKER_ENGINE, DOCKER_SOCKET, new URL("docker_system_df.json", out));
  const podman = new PodmanEngine();
  await podman.prepare();
  try {
    await record(podman, podman.socket, new URL("podman_system_df.json", out));
  } finally {
    await podman.stop();
  }
}
