/**
 * What the disk usage tests and recordings look for on a real engine (Docker or Podman, through its CLI): a container
 * that wrote 3 MiB into its writable layer and 2 MiB into a named volume, a second (created, never started) container
 * using the same volume, and an image built twice under one tag, so that the first build is left dangling. Every
 * container runs with `--network none`; builds too.
 */
import { type ContainerEngine, ContainerScope, type TestContainer } from "./docker.ts";

/** MiB the writer puts into its writable layer. */
export const WRITABLE_LAYER_MIB = 3;
/** MiB the writer puts into the volume. */
export const VOLUME_MIB = 2;

/** The objects made, and how to remove them. */
export interface DiskWorkload {
  /** Wrote `WRITABLE_LAYER_MIB` MiB to /big and `VOLUME_MIB` MiB to the volume, then exited 0. */
  writer: TestContainer;
  /** Created with the volume mounted, never started. */
  sharer: TestContainer;
  volume: string;
  /** The first build's image id (64 hex, no `sha256:`), untagged by the second build. */
  danglingImage: string;
  /** The second build's image id, tagged `tag`. */
  taggedImage: string;
  tag: string;
  /** Removes the containers, the volume and both images. */
  cleanup(): Promise<void>;
}

/** Makes the workload on `engine`; `task` names its containers, volume and tag (`itest-<task>-<random>`). */
export async function makeDiskWorkload(engine: ContainerEngine, task: string): Promise<DiskWorkload> {
  const scope = new ContainerScope(task, engine);
  const volume = scope.nameFor("vol");
  const tag = `docker-exporter-test-df:${scope.prefix}`;
  const images: string[] = [];
  const cleanup = async () => {
    await scope.cleanup();
    await engine.cli("volume", "rm", "--force", volume).catch(() => "already gone");
    if (images.length > 0) await engine.cli("rmi", "--force", ...images).catch(() => "already gone");
  };
  try {
    const base = await engine.ensureImage();
    for (const content of ["first", "second"]) images.push(await build(engine, base, tag, content));
    await engine.cli("volume", "create", volume);
    const writer = await scope.create({
      name: "writer",
      flags: ["--volume", `${volume}:/vol`],
      command: [
        "sh",
        "-c",
        `dd if=/dev/zero of=/big bs=1M count=${WRITABLE_LAYER_MIB} 2>/dev/null && ` +
        `dd if=/dev/zero of=/vol/data bs=1M count=${VOLUME_MIB} 2>/dev/null && sync`,
      ],
    });
    // Returns once the container has exited.
    await engine.cli("start", "--attach", writer.id);
    const sharer = await scope.create({ name: "sharer", flags: ["--volume", `${volume}:/vol`] });
    return { writer, sharer, volume, danglingImage: images[0], taggedImage: images[1], tag, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** Builds `FROM base` plus a layer holding `content`, tagged `tag`; returns its id (64 hex). */
async function build(engine: ContainerEngine, base: string, tag: string, content: string): Promise<string> {
  const context = await Deno.makeTempDir({ prefix: "docker-exporter-df-image-" });
  try {
    await Deno.writeTextFile(`${context}/Dockerfile`, `FROM ${base}\nRUN echo ${content} > /layer\n`);
    const printed = await engine.cli("build", "--network", "none", "--quiet", "--tag", tag, context);
    // Docker prints `sha256:<id>`, Podman the bare id, after any lines of its own.
    const id = printed.trim().split("\n").at(-1)!.replace(/^sha256:/, "");
    if (!/^[0-9a-f]{64}$/.test(id)) throw new Error(`build printed ${JSON.stringify(printed)}, not an image id`);
    return id;
  } finally {
    await Deno.remove(context, { recursive: true });
  }
}
