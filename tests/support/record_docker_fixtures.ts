/**
 * Records the Docker fixtures the unit tests replay, from the real engine at /var/run/docker.sock:
 *
 * - `tests/testdata/events_stream.http`: the raw bytes of a `GET /v1.41/events` response (HTTP head and chunked
 *   framing included) while a container labelled `note=héllo✓€😀` is created, started, becomes healthy, is renamed,
 *   paused, unpaused, stopped and removed.
 * - `tests/testdata/inspect_running.json`: `GET /containers/{id}/json` of a running container without a HEALTHCHECK.
 * - `tests/testdata/inspect_healthcheck.json`: the same for an unhealthy container with a failing streak.
 * - `tests/testdata/inspect_exited.json`: the same for a container that exited with code 7.
 *
 * Run by hand, not by the test suite: `deno run --allow-all tests/support/record_docker_fixtures.ts [out-dir]`
 * (default tests/testdata/). Every container runs with `--network none` from the shared busybox test image and is
 * removed again. A new recording has new ids, names and times: update the values the unit tests pin
 * (container_registry_test.ts, docker_events_test.ts) when replacing the files.
 */
import { encodeGetRequest } from "../../lib/docker/socket.ts";
import { eventsPath } from "../../lib/docker/events.ts";
import { docker, DOCKER_SOCKET, ensureTestImage, waitFor } from "./docker.ts";
import { MULTIBYTE_NOTE } from "./events_recording.ts";

const API_VERSION = "1.41";
const TESTDATA = new URL("../testdata/", import.meta.url);
const PREFIX = `unitrec-${crypto.randomUUID().slice(0, 8)}`;

/** `GET path` on the socket through curl; returns the parsed JSON body. */
async function getJson(path: string): Promise<unknown> {
  const output = await new Deno.Command("curl", {
    args: ["-sS", "--fail", "--unix-socket", DOCKER_SOCKET, `http://docker${path}`],
    stdout: "piped",
  }).output();
  if (!output.success) throw new Error(`GET ${path} failed`);
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

// deno-lint-ignore no-explicit-any
type Inspect = Record<string, any>;

async function inspect(id: string): Promise<Inspect> {
  return await getJson(`/v${API_VERSION}/containers/${id}/json`) as Inspect;
}

async function recordEvents(image: string, out: URL): Promise<void> {
  const conn = await Deno.connect({ transport: "unix", path: DOCKER_SOCKET });
  await conn.write(encodeGetRequest(eventsPath(API_VERSION)));
  const pieces: Uint8Array[] = [];
  let text = "";
  const decoder = new TextDecoder();
  const reading = (async () => {
    const buffer = new Uint8Array(65536);
    while (true) {
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) return;
      pieces.push(buffer.slice(0, n));
      text += decoder.decode(buffer.subarray(0, n), { stream: true });
    }
  })();
  await waitFor(() => text.includes("\r\n\r\n"), 10_000, "the events response head");

  const name = `${PREFIX}-events`;
  const id = await docker(
    "run",
    "-d",
    "--name",
    name,
    "--network",
    "none",
    "-l",
    `note=${MULTIBYTE_NOTE}`,
    "-l",
    'quote=say "hi" \\ bye',
    "--health-cmd",
    "true",
    "--health-interval",
    "1s",
    image,
    "sleep",
    "600",
  );
  await waitFor(async () => (await inspect(id)).State.Health?.Status === "healthy", 30_000, "healthy");
  await docker("rename", name, `${name}-renamed`);
  await docker("pause", id);
  await docker("unpause", id);
  await docker("stop", "-t", "1", id);
  await docker("rm", id);
  await waitFor(() => /"Action":"destroy"/.test(text), 10_000, "the destroy event");
  conn.close();
  await reading;
  // The filter is the exporter's own, so it lets through every container's events: others using the engine
  // at the same time would end up in the fixture, whose tests expect one container's life only.
  const foreign = new Set(
    [...text.matchAll(/"id":"([0-9a-f]{64})"/g)].map((m) => m[1]).filter((other) => other !== id),
  );
  if (foreign.size > 0) {
    throw new Error(`the recording caught events of ${foreign.size} other container(s); run again on a quiet engine`);
  }

  const bytes = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const piece of pieces) {
    bytes.set(piece, offset);
    offset += piece.length;
  }
  await Deno.writeFile(new URL("events_stream.http", out), bytes);
  console.log(`events_stream.http: ${bytes.length} bytes in ${pieces.length} reads`);
}

async function recordInspects(image: string, out: URL): Promise<void> {
  const save = async (file: string, id: string) => {
    const json = await inspect(id);
    await Deno.writeTextFile(new URL(file, out), JSON.stringify(json, null, 2) + "\n");
    console.log(`${file}: ${json.State.Status} ${json.State.Health?.Status ?? "(no healthcheck)"}`);
  };
  const run = (suffix: string, ...args: string[]) =>
    docker("run", "-d", "--name", `${PREFIX}-${suffix}`, "--network", "none", ...args);

  const running = await run(
    "running",
    "-l",
    "com.docker.compose.project=shop",
    "-l",
    "com.docker.compose.service=web",
    "-l",
    `note=${MULTIBYTE_NOTE}`,
    image,
    "sleep",
    "600",
  );
  await save("inspect_running.json", running);

  const unhealthy = await run(
    "unhealthy",
    "--health-cmd",
    "exit 3",
    "--health-interval",
    "1s",
    "--health-retries",
    "2",
    image,
    "sleep",
    "600",
  );
  await waitFor(
    async () => (await inspect(unhealthy)).State.Health?.FailingStreak >= 3,
    30_000,
    "a failing streak of 3",
  );
  await save("inspect_healthcheck.json", unhealthy);

  const exited = await run("exited", image, "sh", "-c", "exit 7");
  await waitFor(async () => (await inspect(exited)).State.Status === "exited", 30_000, "exit");
  await save("inspect_exited.json", exited);
}

if (import.meta.main) {
  const out = Deno.args[0] ? new URL(`file://${await Deno.realPath(Deno.args[0])}/`) : TESTDATA;
  const image = await ensureTestImage();
  try {
    await recordEvents(image, out);
    await recordInspects(image, out);
  } finally {
    const leftovers = await docker("ps", "-aq", "--filter", `name=${PREFIX}`);
    if (leftovers !== "") await docker("rm", "-f", ...leftovers.split("\n"));
  }
}
