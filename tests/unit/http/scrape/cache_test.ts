import assert from "node:assert/strict";
import { constants, deflateRawSync, gunzipSync } from "node:zlib";
import {
  formatOpenMetricsBody,
  formatText,
  type MetricFamily,
  OPENMETRICS_CONTENT_TYPE,
  TEXT_CONTENT_TYPE,
} from "../../../../lib/metrics/exposition.ts";
import { ScrapeCache } from "../../../../lib/http/scrape/cache.ts";

const decoder = new TextDecoder();

/** Sources whose revision the test sets, counting how often each part is built. */
class CountingSources {
  revisionValue = "1/0";
  stableCalls = 0;
  liveCalls = 0;
  containers = 1;

  /** Pinned by a test; until then the live revision changes with every live rendering. */
  liveRevisionValue: string | undefined = undefined;

  revision = () => this.revisionValue;

  liveRevision = () => this.liveRevisionValue ?? `call ${this.liveCalls}`;

  stableFamilies = (): MetricFamily[] => {
    this.stableCalls++;
    return [
      {
        name: "docker_container_restarts_total",
        help: "Restarts.",
        type: "counter",
        samples: Array.from(
          { length: this.containers },
          (_, i) => ({ labels: [["name", `c${i}`]] as const, value: i }),
        ),
      },
      {
        name: "docker_container_info",
        help: "Info.",
        type: "gauge",
        samples: [{ labels: [["name", "c0"]], value: 1 }],
      },
    ];
  };

  liveFamilies = (): MetricFamily[] => {
    this.liveCalls++;
    return [
      { name: "docker_up", help: "Up.", type: "gauge", samples: [{ labels: [], value: 1 }] },
      {
        name: "process_cpu_seconds_total",
        help: "CPU.",
        type: "counter",
        samples: [{ labels: [], value: this.liveCalls / 4 }],
      },
    ];
  };
}

/** What a body must be: both parts formatted the plain way, for `containers` and as of live call `liveCall`. */
function expectedText(containers: number, liveCall: number): string {
  const probe = new CountingSources();
  probe.containers = containers;
  probe.liveCalls = liveCall - 1;
  return formatText(probe.stableFamilies()) + formatText(probe.liveFamilies());
}

Deno.test("ScrapeCache renders the stable part once per revision and the live part whenever its revision changed", () => {
  const sources = new CountingSources();
  const cache = new ScrapeCache(sources);
  for (let i = 1; i <= 3; i++) {
    const scrape = cache.render("text", false);
    assert.equal(decoder.decode(scrape.body), expectedText(1, i));
  }
  assert.equal(sources.stableCalls, 1);
  assert.equal(sources.liveCalls, 3);

  sources.containers = 3;
  assert.equal(decoder.decode(cache.render("text", false).body), expectedText(1, 4));
  assert.equal(sources.stableCalls, 1, "unchanged revision: the old stable part is served, by design");

  sources.revisionValue = "2/0";
  assert.equal(decoder.decode(cache.render("text", false).body), expectedText(3, 5));
  assert.equal(sources.stableCalls, 2);
  cache.render("text", true);
  cache.render("text", true);
  assert.equal(sources.stableCalls, 2, "gzip reuses the same stable rendering");
  assert.equal(sources.liveCalls, 7);
});

Deno.test("ScrapeCache serves scrapes that come while nothing changed the same body, in the same arrays", () => {
  for (const gzip of [true, false]) {
    const sources = new CountingSources();
    sources.liveRevisionValue = "a";
    const cache = new ScrapeCache(sources);
    const first = cache.render("text", gzip);
    const firstChunks = [...first.chunks()];
    const second = cache.render("text", gzip);
    assert.equal(second, first, "the same body");
    const secondChunks = [...second.chunks()];
    assert.equal(secondChunks.length, firstChunks.length);
    secondChunks.forEach((chunk, i) => assert.equal(chunk, firstChunks[i], "the same array, not a copy"));
    assert.equal(sources.liveCalls, 1);
    assert.equal(sources.stableCalls, 1);

    // The live part changed: only it is formatted again.
    sources.liveRevisionValue = "b";
    const third = cache.render("text", gzip);
    assert.notEqual(third, first);
    assert.equal(sources.liveCalls, 2);
    assert.equal(sources.stableCalls, 1);
    const text = (body: Uint8Array) => decoder.decode(gzip ? gunzipSync(body) : body);
    assert.equal(text(third.body), expectedText(1, 2));
    assert.equal(text(first.body), expectedText(1, 1), "an earlier body is left as it was");

    // The stable part changed with the same live revision: both are made anew.
    sources.revisionValue = "2/0";
    sources.containers = 2;
    assert.equal(text(cache.render("text", gzip).body), expectedText(2, 3));
    assert.equal(sources.stableCalls, 2);
  }
});

Deno.test("ScrapeCache keeps the live part of each format apart", () => {
  const sources = new CountingSources();
  sources.liveRevisionValue = "a";
  const cache = new ScrapeCache(sources);
  const text = decoder.decode(cache.render("text", false).body);
  const openMetrics = decoder.decode(cache.render("openmetrics", false).body);
  assert.equal(text, expectedText(1, 1));
  assert.ok(openMetrics.endsWith("# EOF\n"));
  assert.equal(sources.liveCalls, 2, "formatted once per format");
  assert.equal(decoder.decode(cache.render("text", false).body), text);
  assert.equal(sources.liveCalls, 2);
});

Deno.test("ScrapeCache caches text and OpenMetrics renderings separately", () => {
  const sources = new CountingSources();
  const cache = new ScrapeCache(sources);
  cache.render("text", false);
  cache.render("openmetrics", false);
  cache.render("text", false);
  cache.render("openmetrics", false);
  assert.equal(sources.stableCalls, 2);
  sources.revisionValue = "1/1";
  cache.render("openmetrics", false);
  assert.equal(sources.stableCalls, 3);
});

Deno.test("ScrapeCache serves text 0.0.4 with both parts, in order", () => {
  const sources = new CountingSources();
  const scrape = new ScrapeCache(sources).render("text", false);
  assert.equal(scrape.contentType, TEXT_CONTENT_TYPE);
  assert.equal(scrape.gzipped, false);
  assert.equal(decoder.decode(scrape.body), expectedText(1, 1));
  assert.ok(!decoder.decode(scrape.body).includes("# EOF"));
});

Deno.test("ScrapeCache ends an OpenMetrics body with exactly one # EOF", () => {
  const sources = new CountingSources();
  const cache = new ScrapeCache(sources);
  for (let i = 0; i < 3; i++) {
    const scrape = cache.render("openmetrics", false);
    const text = decoder.decode(scrape.body);
    assert.equal(scrape.contentType, OPENMETRICS_CONTENT_TYPE);
    assert.equal(text.match(/^# EOF$/gm)?.length, 1);
    assert.ok(text.endsWith("\n# EOF\n"));
    const probe = new CountingSources();
    probe.liveCalls = i;
    assert.equal(
      text,
      formatOpenMetricsBody(probe.stableFamilies()) + formatOpenMetricsBody(probe.liveFamilies()) + "# EOF\n",
    );
    // The counter family is named without _total in OpenMetrics metadata.
    assert.ok(text.includes("# TYPE docker_container_restarts counter\n"));
  }
});

Deno.test("ScrapeCache's gzipped body inflates to the plain body", () => {
  for (const format of ["text", "openmetrics"] as const) {
    const plainSources = new CountingSources();
    const gzipSources = new CountingSources();
    const plain = new ScrapeCache(plainSources).render(format, false);
    const gzipped = new ScrapeCache(gzipSources).render(format, true);
    assert.equal(gzipped.gzipped, true);
    assert.equal(gzipped.contentType, plain.contentType);
    assert.deepEqual(gzipped.body.subarray(0, 2), new Uint8Array([0x1f, 0x8b]), "starts with the gzip magic");
    // node:zlib reads every member of a multi-member gzip file.
    assert.equal(decoder.decode(gunzipSync(gzipped.body)), decoder.decode(plain.body));
  }
});

Deno.test("ScrapeCache sends a gzip body as one array, deflating the stable part once for all live revisions", () => {
  const sources = new CountingSources();
  sources.containers = 20_000;
  let deflates = 0;
  const cache = new ScrapeCache(sources, {
    now: STOPPED_CLOCK,
    deflate: (bytes) => {
      deflates++;
      return deflateRawSync(bytes, { finishFlush: constants.Z_SYNC_FLUSH });
    },
  });
  const first = cache.render("text", true);
  const deflatesForStable = deflates;
  const second = cache.render("text", true);
  assert.notEqual(second, first, "a new live revision, a new body");
  for (const body of [first, second]) {
    // A second chunk costs the server a second write per scrape (see JOIN_MAX in lib/http/scrape/cache.ts).
    const chunks = [...body.chunks()];
    assert.equal(chunks.length, 1, "one array");
    assert.equal(chunks[0].length, body.length);
  }
  assert.equal(deflates, deflatesForStable, "the stable part is not deflated again for a new live part");
  const [firstBody] = first.chunks();
  const [secondBody] = second.chunks();
  const tailStart = firstBody.length - 1024;
  assert.deepEqual(secondBody.subarray(0, tailStart), firstBody.subarray(0, tailStart), "the same deflated head");
  assert.equal(decoder.decode(gunzipSync(first.body)), expectedText(20_000, 1));
  assert.equal(decoder.decode(gunzipSync(second.body)), expectedText(20_000, 2));
  // Without gzip, the text comes back from the head as the scrape's body keeps it.
  assert.equal(decoder.decode(cache.render("text", false).body), expectedText(20_000, 3));
});

Deno.test("ScrapeCache sends a gzip body over joinMax as the cached head, shared by every live revision, and a tail", () => {
  const sources = new CountingSources();
  sources.containers = 20_000;
  const cache = new ScrapeCache(sources, { joinMax: 0 });
  const [firstHead] = cache.render("text", true).chunks();
  const second = cache.render("text", true);
  const [secondHead, tail, ...more] = second.chunks();
  assert.equal(more.length, 0);
  assert.equal(secondHead, firstHead, "the head is the cache's own array, not a copy");
  assert.ok(tail.length < 1024, `tail of ${tail.length} bytes`);
  assert.equal(second.length, second.body.length);
  assert.equal(decoder.decode(gunzipSync(second.body)), expectedText(20_000, 2));
});

/** Sources whose live part is one label value of `liveChars` characters, or nothing at all for 0. */
class SizedLiveSources extends CountingSources {
  constructor(readonly liveChars: number) {
    super();
  }

  override liveFamilies = (): MetricFamily[] => {
    this.liveCalls++;
    if (this.liveChars === 0) return [];
    const value = "x".repeat(this.liveChars);
    return [{ name: "docker_live", help: "Live.", type: "gauge", samples: [{ labels: [["v", value]], value: 1 }] }];
  };
}

Deno.test("ScrapeCache makes whole gzip bodies for an empty live part and one over a stored block (65,535 bytes)", () => {
  for (const liveChars of [0, 65_500, 65_535, 200_000]) {
    const probe = new SizedLiveSources(liveChars);
    probe.containers = 2_000;
    const expected = formatText(probe.stableFamilies()) + formatText(probe.liveFamilies());
    for (const joinMax of [0, undefined]) {
      const sources = new SizedLiveSources(liveChars);
      sources.containers = 2_000;
      const cache = new ScrapeCache(sources, { joinMax });
      // Two live revisions: the second body is made from the head the first one left (a view of it when joined).
      for (let call = 1; call <= 2; call++) {
        const body = cache.render("text", true);
        assert.equal(decoder.decode(gunzipSync(body.body)), expected, `live ${liveChars}, joinMax ${joinMax}`);
      }
      assert.equal(sources.liveCalls, 2);
      // The text without gzip is inflated from that head.
      assert.equal(decoder.decode(cache.render("text", false).body), expected);
    }
  }
});

/** The stable part of `CountingSources` with `containers`, and its live part as of live call `call`, in `format`. */
function expectedParts(format: "text" | "openmetrics", containers: number, call: number): [string, string] {
  const probe = new CountingSources();
  probe.containers = containers;
  probe.liveCalls = call - 1;
  return format === "text"
    ? [formatText(probe.stableFamilies()), formatText(probe.liveFamilies())]
    : [formatOpenMetricsBody(probe.stableFamilies()), formatOpenMetricsBody(probe.liveFamilies()) + "# EOF\n"];
}

Deno.test("ScrapeCache gets a plain body of many deflated pieces back after gzip-only scrapes, and keeps it", () => {
  for (const format of ["text", "openmetrics"] as const) {
    const sources = new CountingSources();
    // Some 900 KB of text: several pieces, each deflated on its own.
    sources.containers = 20_000;
    const cache = new ScrapeCache(sources);
    const gzipped = cache.render(format, true);
    const plain = cache.render(format, false);
    assert.equal(sources.stableCalls, 1, "rendered once");
    assert.equal(decoder.decode(gunzipSync(gzipped.body)), expectedParts(format, 20_000, 1).join(""));
    assert.equal(decoder.decode(plain.body), expectedParts(format, 20_000, 2).join(""));
    // Sent in pieces, not one array (one 3.3 MB array took twice as long to send), and kept from then on: the next
    // scrape sends the same arrays.
    const chunks = [...plain.chunks()];
    assert.ok(chunks.length > 3, "in pieces");
    const again = [...cache.render(format, false).chunks()];
    chunks.slice(0, -1).forEach((chunk, i) => assert.equal(again[i], chunk, "the same array, not a copy"));
  }
});

Deno.test("ScrapeCache keeps a plain text up to keepTextMax, and inflates a larger one for each plain scrape", () => {
  for (const [keepTextMax, kept] of [[1e7, true], [100_000, false]] as const) {
    const sources = new CountingSources();
    sources.containers = 20_000;
    const cache = new ScrapeCache(sources, { keepTextMax });
    const [firstPiece] = cache.render("text", false).chunks();
    const second = cache.render("text", false);
    const [secondPiece] = second.chunks();
    assert.equal(secondPiece === firstPiece, kept, kept ? "served from the kept text" : "inflated anew");
    assert.equal(decoder.decode(second.body), expectedText(20_000, 2));
    assert.equal(second.length, second.body.length);
    assert.equal(decoder.decode(gunzipSync(cache.render("text", true).body)), expectedText(20_000, 3));
    assert.equal(sources.stableCalls, 1, "rendered once");
  }
});

/** node:zlib's sync-flushed deflate, counting the bytes it is given (and at which levels). */
function countingDeflate() {
  const counted = { calls: 0, bytes: 0, levels: new Set<number>() };
  const deflate = (bytes: Uint8Array, level: number) => {
    counted.calls++;
    counted.bytes += bytes.length;
    counted.levels.add(level);
    return deflateRawSync(bytes, { finishFlush: constants.Z_SYNC_FLUSH, level });
  };
  return { counted, deflate };
}

/** A clock that never moves: nothing is ever old enough to be deflated again (tests that count deflates). */
const STOPPED_CLOCK = () => 0;

Deno.test("ScrapeCache deflates nothing for scrapes without gzip, and deflates their text once for the first gzip scrape", () => {
  // Prometheus with `enable_compression: false`, or curl: a render for them is formatted only.
  for (const format of ["text", "openmetrics"] as const) {
    const sources = new CountingSources();
    sources.containers = 20_000;
    const { counted, deflate } = countingDeflate();
    const cache = new ScrapeCache(sources, { deflate, now: STOPPED_CLOCK });
    const plain = cache.render(format, false);
    cache.render(format, false);
    assert.equal(counted.calls, 0, "no deflate for plain scrapes");
    assert.equal(decoder.decode(plain.body), expectedParts(format, 20_000, 1).join(""));

    const gzipped = cache.render(format, true);
    assert.ok(counted.calls > 1, "deflated, in pieces");
    assert.equal(counted.bytes, plain.length - expectedParts(format, 20_000, 1)[1].length, "the stable text, once");
    assert.equal(decoder.decode(gunzipSync(gzipped.body)), expectedParts(format, 20_000, 3).join(""));
    const calls = counted.calls;
    cache.render(format, true);
    cache.render(format, false);
    assert.equal(counted.calls, calls, "not again for later scrapes of the rendering");
    assert.equal(sources.stableCalls, 1, "formatted once");
  }
});

Deno.test("ScrapeCache deflates a text too large to keep as it renders it, even for a scrape without gzip", () => {
  const sources = new CountingSources();
  sources.containers = 20_000;
  const { counted, deflate } = countingDeflate();
  const cache = new ScrapeCache(sources, { keepTextMax: 300_000, deflate, now: STOPPED_CLOCK });
  const plain = cache.render("text", false);
  const stableBytes = plain.length - expectedParts("text", 20_000, 1)[1].length;
  assert.ok(stableBytes > 300_000, `${stableBytes} bytes of text`);
  assert.equal(counted.bytes, stableBytes, "every piece deflated once, the ones before the limit included");
  assert.equal(decoder.decode(plain.body), expectedText(20_000, 1));
  assert.equal(decoder.decode(gunzipSync(cache.render("text", true).body)), expectedText(20_000, 2));
  assert.equal(counted.bytes, stableBytes, "the gzip scrape deflates nothing more");
});

/**
 * Three stable families: `docker_container_state` and `container_cpu_usage_seconds_total` made from the objects in
 * `containers` and `readings` (their inputs), and `server_hostname`, which has none. A test replaces objects in
 * those arrays, as the registry and the resource collector replace records and readings.
 */
class InputSources {
  revisionValue = 1;
  containers = Array.from({ length: 3_000 }, (_, i) => ({ id: `c${String(i).padStart(5, "0")}`, running: 1 }));
  readings = Array.from({ length: 3_000 }, (_, i) => ({ id: `c${String(i).padStart(5, "0")}`, cpu: i / 8 }));

  revision = () => String(this.revisionValue);
  liveRevision = () => "live";
  liveFamilies = (): MetricFamily[] => [
    { name: "docker_up", help: "Up.", type: "gauge", samples: [{ labels: [], value: 1 }] },
  ];
  stableFamilies = (): MetricFamily[] => [
    {
      name: "server_hostname",
      help: "Host.",
      type: "gauge",
      samples: [{ labels: [["hostname", "h"]], value: 1 }],
    },
    {
      name: "docker_container_state",
      help: "State.",
      type: "gauge",
      samples: this.containers.map((c) => ({ labels: [["id", c.id]] as const, value: c.running })),
      inputs: [...this.containers],
    },
    {
      name: "container_cpu_usage_seconds_total",
      help: "CPU.",
      type: "counter",
      samples: this.readings.map((r) => ({ labels: [["id", r.id]] as const, value: r.cpu })),
      inputs: [...this.readings],
    },
  ];
}

/** The whole body `sources` should give right now. */
function expectedOf(sources: InputSources, format: "text" | "openmetrics"): string {
  return format === "text"
    ? formatText(sources.stableFamilies()) + formatText(sources.liveFamilies())
    : formatOpenMetricsBody(sources.stableFamilies()) + formatOpenMetricsBody(sources.liveFamilies()) + "# EOF\n";
}

/** The text of the family `name` in `format`, as it is deflated. */
function familyText(sources: InputSources, name: string, format: "text" | "openmetrics"): number {
  const family = sources.stableFamilies().filter((f) => f.name === name);
  const text = format === "text" ? formatText(family) : formatOpenMetricsBody(family);
  return new TextEncoder().encode(text).length;
}

Deno.test("ScrapeCache deflates again only the families whose inputs changed, and the body stays whole", () => {
  for (const format of ["text", "openmetrics"] as const) {
    const sources = new InputSources();
    const { counted, deflate } = countingDeflate();
    const cache = new ScrapeCache(sources, { deflate, now: STOPPED_CLOCK });
    assert.equal(decoder.decode(gunzipSync(cache.render(format, true).body)), expectedOf(sources, format));
    const hostname = familyText(sources, "server_hostname", format);
    const state = familyText(sources, "docker_container_state", format);

    // An event: one container changed; the readings did not.
    counted.bytes = 0;
    sources.containers[10] = { ...sources.containers[10], running: 0 };
    sources.revisionValue++;
    assert.equal(decoder.decode(gunzipSync(cache.render(format, true).body)), expectedOf(sources, format));
    assert.equal(counted.bytes, hostname + state, "the state family and the one without inputs, not the CPU one");

    // A collection: new readings; the containers are the same objects.
    counted.bytes = 0;
    sources.readings = sources.readings.map((r) => ({ ...r, cpu: r.cpu + 1 }));
    sources.revisionValue++;
    assert.equal(decoder.decode(gunzipSync(cache.render(format, true).body)), expectedOf(sources, format));
    const cpu = familyText(sources, "container_cpu_usage_seconds_total", format);
    assert.equal(counted.bytes, hostname + cpu, "the CPU family and the one without inputs, not the state one");

    // A container gone: fewer inputs.
    counted.bytes = 0;
    sources.containers.pop();
    sources.revisionValue++;
    assert.equal(decoder.decode(gunzipSync(cache.render(format, true).body)), expectedOf(sources, format));
    assert.equal(counted.bytes, hostname + familyText(sources, "docker_container_state", format));

    // The text without gzip, from the same mix of kept and new families.
    assert.equal(decoder.decode(cache.render(format, false).body), expectedOf(sources, format));
  }
});

Deno.test("ScrapeCache takes a kept family's text over for scrapes without gzip, and drops texts over keepTextMax", () => {
  const sources = new InputSources();
  const { counted, deflate } = countingDeflate();
  // Room for the text of the first two revisions (some 275 KB), not for the third.
  const cache = new ScrapeCache(sources, { keepTextMax: 350_000, deflate, now: STOPPED_CLOCK });
  const stableLength = () => cache.render("text", false).length - formatText(sources.liveFamilies()).length;
  assert.equal(decoder.decode(cache.render("text", false).body), expectedOf(sources, "text"));
  assert.ok(stableLength() < 350_000, `${stableLength()} bytes`);
  sources.containers[0] = { ...sources.containers[0], running: 0 };
  sources.revisionValue++;
  assert.equal(decoder.decode(cache.render("text", false).body), expectedOf(sources, "text"));
  assert.equal(counted.calls, 0, "kept as text, nothing deflated");

  // More containers: the text outgrows keepTextMax, so every family is kept deflated instead, the one taken over too.
  for (let i = 0; i < 5_000; i++) sources.containers.push({ id: `d${i}`, running: 1 });
  sources.revisionValue++;
  const grown = cache.render("text", false);
  assert.ok(stableLength() > 350_000, `${stableLength()} bytes`);
  assert.equal(decoder.decode(grown.body), expectedOf(sources, "text"));
  assert.equal(counted.bytes, stableLength(), "every family deflated once, the CPU one (taken over) included");
  assert.equal(decoder.decode(gunzipSync(cache.render("text", true).body)), expectedOf(sources, "text"));
  assert.equal(counted.bytes, stableLength(), "the gzip scrape deflates nothing more");
});

Deno.test("ScrapeCache deflates families that share their inputs as one stream, so repeated ids are not paid twice", () => {
  const ids = Array.from(
    { length: 300 },
    () => Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0")).join(""),
  );
  const familiesOf = (shared: boolean): MetricFamily[] => {
    const inputs = [...ids];
    return ["docker_container_a", "docker_container_b", "docker_container_c"].map((name) => ({
      name,
      help: "H.",
      type: "gauge" as const,
      samples: ids.map((id) => ({ labels: [["id", id]] as const, value: 1 })),
      inputs: shared ? inputs : [...ids],
    }));
  };
  const gzipLength = (shared: boolean) => {
    const families = familiesOf(shared);
    const cache = new ScrapeCache({
      revision: () => "1",
      stableFamilies: () => families,
      liveRevision: () => "1",
      liveFamilies: () => [],
    });
    const body = cache.render("text", true);
    assert.equal(decoder.decode(gunzipSync(body.body)), formatText(families));
    return body.length;
  };
  // 300 random 64-character ids cost about 10 KB deflated; apart, each family pays for them again.
  const together = gzipLength(true);
  const apart = gzipLength(false);
  assert.ok(apart > 2 * together, `one stream ${together} bytes, three ${apart}`);
});

Deno.test("ScrapeCache deflates a rendering after a change fast, and again at the default level once it lasted a second", () => {
  // In one array, and as the cached head and a tail (joinMax 0).
  for (const [format, joinMax] of [["text", undefined], ["openmetrics", undefined], ["text", 0]] as const) {
    const sources = new InputSources();
    const { counted, deflate } = countingDeflate();
    let clock = 0;
    const cache = new ScrapeCache(sources, { deflate, joinMax, now: () => clock });
    const gzipBody = () => {
      const body = cache.render(format, true);
      assert.equal(decoder.decode(gunzipSync(body.body)), expectedOf(sources, format));
      return body;
    };
    // The first rendering, at start, has no scrape waiting on a change: deflated once, at the default level.
    const first = gzipBody();
    assert.deepEqual([...counted.levels], [6]);

    // An event: the state family is new, so the scrape that finds it, and scrapes that come together with it, wait
    // only for the fast level. The CPU family, which did not change, stays as it was.
    const hostname = familyText(sources, "server_hostname", format);
    const changed = () => hostname + familyText(sources, "docker_container_state", format);
    counted.bytes = 0;
    counted.levels.clear();
    sources.containers[10] = { ...sources.containers[10], running: 0 };
    sources.revisionValue++;
    const fresh = gzipBody();
    assert.deepEqual([...counted.levels], [1]);
    assert.equal(counted.bytes, changed());
    assert.ok(fresh.length > first.length * 1.2, `${fresh.length} bytes in part at level 1 against ${first.length}`);
    clock += 999;
    assert.equal(gzipBody(), fresh, "not a second old: the same body");

    // A scrape a second on sends the same text with the new families at the default level, and later ones keep it.
    counted.bytes = 0;
    counted.levels.clear();
    clock += 1;
    const lasted = gzipBody();
    assert.deepEqual([...counted.levels], [6]);
    assert.equal(counted.bytes, changed(), "the new families again, the CPU one not");
    assert.ok(Math.abs(lasted.length - first.length) < 64, `${lasted.length} bytes against ${first.length}`);
    // A body made before, perhaps still being sent, is as it was.
    assert.equal(decoder.decode(gunzipSync(fresh.body)), expectedOf(sources, format));
    counted.calls = 0;
    clock += 60_000;
    assert.equal(gzipBody(), lasted, "deflated at the default level once");
    assert.equal(counted.calls, 0);
  }
});

Deno.test("ScrapeCache deflates a text too large to keep again at the default level when a plain scrape sends it", () => {
  const sources = new InputSources();
  const { counted, deflate } = countingDeflate();
  let clock = 0;
  const cache = new ScrapeCache(sources, { keepTextMax: 100_000, deflate, now: () => clock });
  cache.render("text", false);
  sources.containers[0] = { ...sources.containers[0], running: 0 };
  sources.revisionValue++;
  counted.levels.clear();
  assert.equal(decoder.decode(cache.render("text", false).body), expectedOf(sources, "text"));
  assert.deepEqual([...counted.levels], [1]);
  counted.levels.clear();
  clock += 1000;
  assert.equal(decoder.decode(cache.render("text", false).body), expectedOf(sources, "text"));
  assert.deepEqual([...counted.levels], [6]);
  assert.equal(decoder.decode(gunzipSync(cache.render("text", true).body)), expectedOf(sources, "text"));
});

Deno.test("ScrapeCache deflates a rendering after one over fastTextMax once, at the default level", () => {
  // Two deflated copies of a large text, and two gzip heads, cost more memory than the fast level saves time.
  const sources = new InputSources();
  const { counted, deflate } = countingDeflate();
  const cache = new ScrapeCache(sources, { deflate, fastTextMax: 100_000, now: STOPPED_CLOCK });
  assert.ok(cache.render("text", true).length > 0);
  sources.containers[0] = { ...sources.containers[0], running: 0 };
  sources.revisionValue++;
  counted.levels.clear();
  assert.equal(decoder.decode(gunzipSync(cache.render("text", true).body)), expectedOf(sources, "text"));
  assert.deepEqual([...counted.levels], [6]);
});
