/**
 * Stand-ins for the Deno base images the Dockerfile names, built offline from this machine's own files.
 *
 * No image can be pulled here, so `docker build` on the real Dockerfile needs images tagged exactly as its
 * `FROM` lines name them. Each stand-in is `FROM scratch` with the running `deno` binary, the shared libraries
 * `ldd` lists for it, and the few files of the real image that the exporter's Dockerfile relies on. A tag that
 * already names an image without our label is a real image and is left alone. Stand-ins are kept between runs
 * (they are cheap to detect) and rebuilt when their recipe or the deno binary changes.
 */
import { docker } from "./docker.ts";

/** The label every stand-in carries; its value says what it mirrors and hashes its recipe. */
export const STANDIN_LABEL = "docker-exporter.test-standin";

/** The base images a Dockerfile names through its `ARG BUILD_IMAGE=` and `ARG RUNTIME_IMAGE=` defaults. */
export interface BaseImages {
  build: string;
  runtime: string;
}

/**
 * Reads the defaults of `ARG BUILD_IMAGE` and `ARG RUNTIME_IMAGE`, and checks that the two `FROM` lines use them.
 * @throws Error when the Dockerfile does not have that shape.
 */
export function baseImagesOf(dockerfile: string): BaseImages {
  const arg = (name: string) => {
    const match = new RegExp(`^ARG ${name}=(\\S+)$`, "m").exec(dockerfile);
    if (!match) throw new Error(`the Dockerfile has no \`ARG ${name}=<image>\` line`);
    return match[1];
  };
  const froms = Array.from(dockerfile.matchAll(/^FROM\s+(\S+)/gm), (m) => m[1]);
  if (froms.join(" ") !== "${BUILD_IMAGE} ${RUNTIME_IMAGE}") {
    throw new Error(`expected FROM \${BUILD_IMAGE} then FROM \${RUNTIME_IMAGE}, found FROM ${froms.join(", FROM ")}`);
  }
  return { build: arg("BUILD_IMAGE"), runtime: arg("RUNTIME_IMAGE") };
}

/** Which real image a stand-in mirrors. */
export type StandInKind = "debian" | "distroless";

/** What `ensureStandIn` found or did. */
export type StandInOutcome = "built" | "cached" | "real image";

/** One file of a stand-in's root file system: where it goes, and its bytes or the host file to copy. */
interface RootFile {
  path: string;
  source?: string;
  text?: string;
  mode?: number;
}

const PASSWD = {
  // denoland/deno (Debian): root and the image's `deno` user.
  debian: "root:x:0:0:root:/root:/bin/sh\ndeno:x:1993:1993::/home/deno:/bin/sh\n",
  // distroless: root, nobody and nonroot (65532), none with a shell.
  distroless: "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
    "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
};
const GROUP = {
  debian: "root:x:0:\ndeno:x:1993:\n",
  distroless: "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n",
};

/**
 * The stand-in's Dockerfile. Like the real images: deno at /usr/bin/deno (Debian) or /bin/deno (distroless),
 * DENO_DIR=/deno-dir/, a sticky /tmp, the images' users. Unlike them: no shell, no tini, no package manager,
 * no CA bundle in the Debian one (so a build that needs a proxy's CA must bring it, as documented).
 */
function standInDockerfile(kind: StandInKind, tag: string, version: string): string {
  const deno = kind === "debian" ? "/usr/bin/deno" : "/bin/deno";
  return [
    `# Stand-in for ${tag}, built from this machine's deno ${version} for the tests; not the real image.`,
    "FROM scratch",
    "COPY rootfs/ /",
    ...(kind === "distroless" ? ["COPY --chown=65532:65532 home/ /home/"] : []),
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    `ENV DENO_DIR=/deno-dir/ DENO_INSTALL_ROOT=/usr/local DENO_VERSION=${version}`,
    `ENTRYPOINT ["${deno}"]`,
    `CMD ["eval", "console.log('Welcome to Deno!')"]`,
    "",
  ].join("\n");
}

/** The shared libraries `ldd` lists for `binary`, as absolute paths (the dynamic loader included). */
export async function sharedLibraries(binary: string): Promise<string[]> {
  const output = await new Deno.Command("ldd", { args: [binary], stdout: "piped", stderr: "piped" }).output();
  if (!output.success) throw new Error(`ldd ${binary} failed: ${new TextDecoder().decode(output.stderr).trim()}`);
  const paths: string[] = [];
  for (const line of new TextDecoder().decode(output.stdout).split("\n")) {
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (match) paths.push(match[1]);
    else if (/not found/.test(line)) throw new Error(`ldd ${binary}: ${line.trim()}`);
  }
  if (paths.length === 0) throw new Error(`ldd ${binary} listed no libraries; is it a dynamic ELF binary?`);
  return paths;
}

function rootFiles(kind: StandInKind, deno: string, libraries: readonly string[]): RootFile[] {
  const files: RootFile[] = [
    { path: kind === "debian" ? "usr/bin/deno" : "bin/deno", source: deno, mode: 0o755 },
    ...libraries.map((library) => ({ path: library.slice(1), source: library, mode: 0o755 })),
    { path: "etc/passwd", text: PASSWD[kind] },
    { path: "etc/group", text: GROUP[kind] },
  ];
  if (kind === "distroless") {
    files.push({ path: "etc/ssl/certs/ca-certificates.crt", source: "/etc/ssl/certs/ca-certificates.crt" });
  }
  return files;
}

async function sha256Hex(parts: readonly (string | Uint8Array)[]): Promise<string> {
  const chunks = parts.map((part) => typeof part === "string" ? new TextEncoder().encode(part) : part);
  const joined = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", joined));
  return Array.from(digest.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The labels of the image `tag`, or `undefined` when no image has that tag. */
async function imageLabels(tag: string): Promise<Record<string, string> | undefined> {
  let json: string;
  try {
    json = await docker("image", "inspect", "--format", "{{json .Config.Labels}}", tag);
  } catch (error) {
    if (/No such image/i.test((error as Error).message)) return undefined;
    throw error;
  }
  return JSON.parse(json) ?? {};
}

/**
 * Makes sure `tag` names an image: a real one if the engine has it, else a stand-in of `kind` built with
 * `docker build --network none` from the running deno binary. The deno version must be the one the tag names.
 * @throws Error when this deno is another version than the tag's, or the build fails.
 */
export async function ensureStandIn(tag: string, kind: StandInKind): Promise<StandInOutcome> {
  const version = Deno.version.deno;
  const tagVersion = /(\d+\.\d+\.\d+)$/.exec(tag)?.[1];
  if (tagVersion !== version) {
    const labels = await imageLabels(tag);
    if (labels !== undefined && labels[STANDIN_LABEL] === undefined) return "real image";
    throw new Error(
      `${tag} needs deno ${tagVersion ?? "(no version in the tag)"} for its stand-in; this is deno ${version}`,
    );
  }
  const deno = await Deno.realPath(Deno.execPath());
  const libraries = await sharedLibraries(deno);
  const dockerfile = standInDockerfile(kind, tag, version);
  const files = rootFiles(kind, deno, libraries);
  const denoStat = await Deno.stat(deno);
  const recipe = await sha256Hex([
    dockerfile,
    JSON.stringify(files.map(({ path, source, text }) => ({ path, source, text }))),
    `${denoStat.size}:${denoStat.mtime?.getTime()}`,
  ]);
  const labelValue = `${kind} ${version} ${recipe}`;

  const labels = await imageLabels(tag);
  if (labels !== undefined) {
    if (labels[STANDIN_LABEL] === undefined) return "real image";
    if (labels[STANDIN_LABEL] === labelValue) return "cached";
  }

  const context = await Deno.makeTempDir({ prefix: "docker-exporter-standin-" });
  try {
    await Deno.writeTextFile(`${context}/Dockerfile`, dockerfile);
    for (const file of files) {
      const target = `${context}/rootfs/${file.path}`;
      await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
      if (file.source !== undefined) await Deno.copyFile(file.source, target);
      else await Deno.writeTextFile(target, file.text!);
      await Deno.chmod(target, file.mode ?? 0o644);
    }
    for (const dir of ["tmp", "deno-dir"]) await Deno.mkdir(`${context}/rootfs/${dir}`, { recursive: true });
    await Deno.chmod(`${context}/rootfs/tmp`, 0o1777);
    if (kind === "distroless") await Deno.mkdir(`${context}/home/nonroot`, { recursive: true });
    await docker(
      "build",
      "--network",
      "none",
      "--quiet",
      "--label",
      `${STANDIN_LABEL}=${labelValue}`,
      "--tag",
      tag,
      context,
    );
  } finally {
    await Deno.remove(context, { recursive: true });
  }
  return "built";
}
