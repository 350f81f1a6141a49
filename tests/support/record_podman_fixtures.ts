/**
 * Records the Podman fixtures the unit tests replay, through Podman's Docker-compatible API (the service is
 * started on a socket of its own, as the integration tests start it):
 *
 * - `tests/testdata/podman_events.jsonl`: every container event of `GET /v1.41/events?filters={"type":["container"]}`,
 *   one JSON object a line, while a container with a HEALTHCHECK is run, checked healthy, renamed, paused,
 *   unpaused, checked unhealthy, restarted, stopped and removed, and then a `run --rm` container exits with 3.
 * - `tests/testdata/podman_inspect_healthy.json`: `GET /v1.41/containers/{id}/json` of the healthy container.
 * - `tests/testdata/podman_list.json`: the `GET /v1.41/containers/json?all=1` entries of the healthy container and
 *   of a running one without a HEALTHCHECK.
 *
 * Run by hand, not by the test suite: `deno run --allow-all tests/support/record_podman_fixtures.ts [out-dir]`
 * (default tests/testdata/). Health checks are run with `podman healthcheck run`, as Podman's systemd timers
 * would. A new recording has new ids, names and times: update what tests/unit/podman_events_test.ts pins.
 */
import { PodmanEngine } from "./engines.ts";

const API = "/v1.41";
const TESTDATA = new URL("../testdata/", import.meta.url);
const PREFIX = `unitrec-${crypto.randomUUID().slice(0, 8)}`;

async function record(engine: PodmanEngine, out: URL): Promise<void> {
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path: engine.socket } });
  const get = async (path: string) => {
    const response = await fetch(`http://podman${API}${path}`, { client });
    if (!response.ok) throw new Error(`GET ${path} answered ${response.status}: ${await response.text()}`);
    return await response.json();
  };
  const stopReading = new AbortController();
  const events = await fetch(
    `http://podman${API}/events?filters=${encodeURIComponent(JSON.stringify({ type: ["container"] }))}`,
    { client, signal: stopReading.signal },
  );
  const lines: string[] = [];
  const reading = (async () => {
    let text = "";
    for await (const piece of events.body!.pipeThrough(new TextDecoderStream())) {
      text += piece;
      const complete = text.split("\n");
      text = complete.pop()!;
      lines.push(...complete.filter((line) => line.trim() !== ""));
    }
  })();

  const image = await engine.ensureImage();
  const name = `${PREFIX}-events`;
  const id = await engine.cli(
    "run",
    "--detach",
    "--network",
    "none",
    "--name",
    name,
    "--label",
    "note=héllo✓€😀",
    "--health-cmd",
    "test -f /tmp/ok",
    "--health-interval",
    "disable",
    "--health-retries",
    "1",
    image,
    "sh",
    "-c",
    "touch /tmp/ok; trap 'exit 0' TERM; sleep 600 & wait",
  );
  const plain = await engine.cli(
    "run",
    "--detach",
    "--network",
    "none",
    "--name",
    `${PREFIX}-plain`,
    image,
    "sleep",
    "600",
  );
  await engine.cli("healthcheck", "run", id);
  await Deno.writeTextFile(
    new URL("podman_inspect_healthy.json", out),
    JSON.stringify(await get(`/containers/${id}/json`), null, 2) + "\n",
  );
  const list = (await get("/containers/json?all=1") as { Id: string }[]).filter((c) => [id, plain].includes(c.Id));
  await Deno.writeTextFile(new URL("podman_list.json", out), JSON.stringify(list, null, 2) + "\n");
  await engine.cli("rm", "--force", "--time", "0", plain);

  await engine.cli("rename", name, `${name}-renamed`);
  await engine.cli("pause", id);
  await engine.cli("unpause", id);
  await engine.cli("exec", id, "rm", "/tmp/ok");
  await engine.cli("healthcheck", "run", id).catch(() => "unhealthy, as intended");
  await engine.cli("restart", id);
  await engine.cli("stop", id);
  await engine.cli("rm", id);
  const gone = await engine.cli(
    "run",
    "--detach",
    "--rm",
    "--network",
    "none",
    "--name",
    `${PREFIX}-exit`,
    image,
    "sh",
    "-c",
    "exit 3",
  );
  const removed = (which: string) => lines.filter((line) => line.includes(`"Action":"remove"`) && line.includes(which));
  for (let waited = 0; removed(id).length + removed(gone).length < 2; waited += 50) {
    if (waited > 10_000) throw new Error("the remove events did not arrive within 10 s");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  stopReading.abort();
  await reading.catch(() => "aborted, as intended");
  client.close();
  // Others may use the same storage meanwhile; their containers' events are left out.
  const ours = lines.filter((line) => [id, gone].includes(JSON.parse(line).Actor?.ID));
  await Deno.writeTextFile(new URL("podman_events.jsonl", out), ours.join("\n") + "\n");
  console.log(`podman_events.jsonl: ${ours.length} events; podman_list.json: ${list.length} entries`);
}

if (import.meta.main) {
  const out = Deno.args[0] ? new URL(`file://${await Deno.realPath(Deno.args[0])}/`) : TESTDATA;
  const engine = new PodmanEngine();
  await engine.prepare();
  try {
    await record(engine, out);
  } finally {
    const leftovers = await engine.cli("ps", "-aq", "--filter", `name=${PREFIX}`);
    if (leftovers !== "") await engine.cli("rm", "--force", "--time", "0", ...leftovers.split("\n"));
    await engine.stop();
  }
}
