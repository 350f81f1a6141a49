/**
 * Basic auth under a flood of wrong passwords, against the exporter process with the start task's permissions on
 * 127.0.0.1: 40 clients send wrong passwords as fast as the exporter answers them, while a scraper with the right
 * password keeps scraping. The scraper has scraped once before the flood begins, as Prometheus does every scrape
 * interval. Each of its scrapes must succeed within Prometheus's default scrape timeout of 10 s; the flood's requests
 * must get 401 or, when too many password checks are under way, 429, each counted.
 *
 * The hash has the highest bcrypt cost the web config accepts, where each comparison costs the most. The engine is
 * the scripted fake engine: what is tested here is the authentication in front of the handler, not Docker.
 */
import assert from "node:assert/strict";
import bcrypt from "bcryptjs";
import { waitFor } from "../support/docker.ts";
import { type Exporter, parseSamples, sampleValue, startExporter } from "../support/exporter.ts";
import { fakeContainer, FakeEngine } from "../support/fake_engine.ts";

const A = "a".repeat(64);
const PASSWORD = `pw-${crypto.randomUUID()}`;
const COST = 12;
const CLIENTS = 40;
const SCRAPES = 5;
/** Prometheus's default `scrape_timeout`. */
const SCRAPE_TIMEOUT_MS = 10_000;

const basic = (user: string, password: string) => `Basic ${btoa(`${user}:${password}`)}`;

Deno.test(`scrapes with the right password succeed within 10 s while ${CLIENTS} clients send wrong ones`, async () => {
  const engine = await FakeEngine.start();
  engine.add(fakeContainer(A, "aaaa"));
  const dir = await Deno.makeTempDir({ prefix: "docker-exporter-auth-flood-" });
  const flooding = new AbortController();
  const statuses = new Map<number, number>();
  const clientErrors: string[] = [];
  let attackers: Promise<void>[] = [];
  let exporter: Exporter | undefined;
  try {
    await Deno.writeTextFile(
      `${dir}/web.yml`,
      `basic_auth_users:\n  prometheus: ${await bcrypt.hash(PASSWORD, COST)}\n`,
    );
    exporter = await startExporter({
      dockerSocket: engine.path,
      allowRead: [dir],
      env: { EXPORTER_WEB_CONFIG_FILE: `${dir}/web.yml` },
      waitFor: "healthz",
    });
    const url = `${exporter.url}/metrics`;
    const scrape = async () => {
      const response = await fetch(url, {
        headers: { Authorization: basic("prometheus", PASSWORD) },
        signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS),
      });
      return { status: response.status, text: await response.text() };
    };
    await waitFor(async () => (await scrape()).status === 200, 15_000, "a first scrape with the right password");

    attackers = Array.from({ length: CLIENTS }, async (_, i) => {
      const headers = { Authorization: basic("prometheus", `wrong-${i}`) };
      while (!flooding.signal.aborted) {
        try {
          const response = await fetch(url, { headers, signal: flooding.signal });
          await response.body?.cancel();
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        } catch (error) {
          if (!flooding.signal.aborted) clientErrors.push(String(error));
        }
      }
    });
    // Every client has a request in flight before the scrapes begin.
    await new Promise((resolve) => setTimeout(resolve, 1000));

    for (let i = 0; i < SCRAPES; i++) {
      const { status, text } = await scrape().catch((error) =>
        assert.fail(`scrape ${i + 1} under the flood did not answer within ${SCRAPE_TIMEOUT_MS} ms: ${error}`)
      );
      assert.equal(status, 200, `scrape ${i + 1} answered ${status}: ${text}`);
      assert.equal(sampleValue(parseSamples(text), "docker_container_state", { id: A, state: "running" }), 1);
    }
    flooding.abort();
    await Promise.all(attackers);

    assert.deepEqual(clientErrors, []);
    assert.deepEqual([...statuses.keys()].filter((status) => status !== 401 && status !== 429), []);
    assert.ok((statuses.get(401) ?? 0) > 0, "no wrong password was answered 401");
    assert.ok((statuses.get(429) ?? 0) > 0, "no request was refused as busy");
    // The exporter counted every refusal the clients saw, and perhaps a few whose answers they stopped waiting for.
    const samples = parseSamples((await scrape()).text);
    assert.ok(sampleValue(samples, "docker_exporter_http_auth_failures_total")! >= statuses.get(401)!);
    assert.ok(
      sampleValue(samples, "docker_exporter_http_refusals_total", { reason: "auth_busy" })! >= statuses.get(429)!,
    );
    await exporter.stop();
  } finally {
    flooding.abort();
    await Promise.all(attackers);
    await exporter?.kill();
    engine.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
