/**
 * Basic authentication in front of the handler: parsing the header, what is let through, what is refused and
 * counted, and that every refusal costs exactly one password comparison (with a decoy hash for unknown users),
 * so that timing does not tell which users exist; right credentials remembered for a while, wrong ones never;
 * requests beyond the comparisons allowed at once refused at once. Also checked with the real bcryptjs.
 */
import assert from "node:assert/strict";
import bcrypt from "bcryptjs";
import {
  type BasicAuthOptions,
  parseBasicAuth,
  type PasswordCheck,
  withBasicAuth,
} from "../../../lib/http/basic_auth.ts";

const basic = (text: string) => `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(text)))}`;

const parses: { header: string | null; expected: { user: string; password: string } | undefined }[] = [
  { header: basic("prometheus:s3cret"), expected: { user: "prometheus", password: "s3cret" } },
  {
    header: basic("prometheus:s3cret").replace("Basic", "basic"),
    expected: { user: "prometheus", password: "s3cret" },
  },
  {
    header: basic("prometheus:s3cret").replace("Basic ", "BASIC   "),
    expected: { user: "prometheus", password: "s3cret" },
  },
  { header: basic("user:pa:ss:word"), expected: { user: "user", password: "pa:ss:word" } },
  { header: basic("user:"), expected: { user: "user", password: "" } },
  { header: basic(":password"), expected: { user: "", password: "password" } },
  { header: basic("üser:pässwörd✓"), expected: { user: "üser", password: "pässwörd✓" } },
  { header: null, expected: undefined },
  { header: "", expected: undefined },
  { header: "Basic", expected: undefined },
  { header: "Basic ", expected: undefined },
  { header: "Bearer dXNlcjpwYXNz", expected: undefined },
  { header: 'Digest username="user"', expected: undefined },
  { header: "Basic !!!notbase64!!!", expected: undefined },
  { header: "Basic dXNlcjpwYXNz extra", expected: undefined },
  { header: "Basic a", expected: undefined },
  { header: basic("no colon here"), expected: undefined },
  // 0xff 0xfe are not UTF-8.
  { header: `Basic ${btoa("\xff\xfe:pw")}`, expected: undefined },
];

for (const { header, expected } of parses) {
  Deno.test(`parseBasicAuth(${JSON.stringify(header)}) gives ${JSON.stringify(expected)}`, () => {
    assert.deepEqual(parseBasicAuth(header), expected);
  });
}

const USERS = new Map([["prometheus", "HASH-prometheus"], ["grafana", "HASH-grafana"]]);
const DECOY = "HASH-decoy";
const PASSWORDS: Record<string, string> = { "HASH-prometheus": "s3cret", "HASH-grafana": "other" };

/**
 * A protected handler with a recording password check; the check accepts each user's own password only. `check`
 * replaces it (to make comparisons wait); `clock.ms` is the time the handler sees.
 */
function setup(options: Partial<BasicAuthOptions> = {}) {
  const comparisons: [string, string][] = [];
  const handled: string[] = [];
  let failures = 0;
  let busy = 0;
  const clock = { ms: 1_000_000 };
  const check: PasswordCheck = (password, hash) => {
    comparisons.push([password, hash]);
    return Promise.resolve(PASSWORDS[hash] === password);
  };
  const inner = (request: Request) => {
    handled.push(new URL(request.url).pathname);
    return Promise.resolve(new Response("inner", { status: 200 }));
  };
  const handler = withBasicAuth(inner, {
    users: USERS,
    check,
    decoyHash: DECOY,
    onFailure: () => failures++,
    onBusy: () => busy++,
    now: () => clock.ms,
    ...options,
  });
  return { handler, comparisons, handled, clock, failures: () => failures, busy: () => busy };
}

const get = (path: string, authorization?: string) =>
  new Request(`http://localhost${path}`, { headers: authorization ? { Authorization: authorization } : {} });

Deno.test("withBasicAuth() passes a request with a user's right password to the handler", async () => {
  const { handler, comparisons, handled, failures } = setup();
  const response = await handler(get("/metrics", basic("prometheus:s3cret")));
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "inner");
  assert.deepEqual(comparisons, [["s3cret", "HASH-prometheus"]]);
  assert.deepEqual(handled, ["/metrics"]);
  assert.equal(failures(), 0);
});

const refusals: { name: string; authorization?: string; comparison: [string, string] }[] = [
  { name: "no Authorization header", comparison: ["", DECOY] },
  { name: "a wrong password", authorization: basic("prometheus:wrong"), comparison: ["wrong", "HASH-prometheus"] },
  {
    name: "another user's password",
    authorization: basic("prometheus:other"),
    comparison: ["other", "HASH-prometheus"],
  },
  { name: "an unknown user", authorization: basic("mallory:s3cret"), comparison: ["s3cret", DECOY] },
  { name: "a user name differing in case", authorization: basic("Prometheus:s3cret"), comparison: ["s3cret", DECOY] },
  { name: "a malformed header", authorization: "Basic !!!", comparison: ["", DECOY] },
  { name: "a Bearer token", authorization: "Bearer s3cret", comparison: ["", DECOY] },
];

for (const { name, authorization, comparison } of refusals) {
  Deno.test(`withBasicAuth() answers ${name} with 401, counts it, and compares exactly once`, async () => {
    const { handler, comparisons, handled, failures } = setup();
    const response = await handler(get("/metrics", authorization));
    assert.equal(response.status, 401);
    assert.equal(response.headers.get("www-authenticate"), 'Basic realm="docker-exporter", charset="UTF-8"');
    assert.equal(await response.text(), "Unauthorized\n");
    // One comparison on every path, against the decoy when there is no such user: refusals take as long either way.
    assert.deepEqual(comparisons, [comparison]);
    assert.deepEqual(handled, []);
    assert.equal(failures(), 1);
  });
}

Deno.test("withBasicAuth() leaves /healthz open for HEALTHCHECKs, and guards every other path", async () => {
  const { handler, comparisons, handled, failures } = setup();
  const health = await handler(get("/healthz"));
  assert.equal(health.status, 200);
  await health.body?.cancel();
  assert.deepEqual(comparisons, []);
  for (
    const path of ["/", "/metrics", "/metrics?x=1", "/readyz", "/no-such-page", "/healthz/../metrics", "//healthz"]
  ) {
    const response = await handler(get(path));
    assert.equal(response.status, 401, path);
    await response.body?.cancel();
  }
  assert.deepEqual(handled, ["/healthz"], "no other path reached the handler, not even to answer 404");
  assert.equal(failures(), 7);
});

Deno.test("withBasicAuth() with the real bcryptjs: $2b$ and $2y$ hashes, right and wrong passwords", async () => {
  const hash = await bcrypt.hash("s3cret", 4);
  const users = new Map([["b", hash], ["y", hash.replace(/^\$2b\$/, "$2y$")]]);
  const decoy = await bcrypt.hash(crypto.randomUUID(), 4);
  let failures = 0;
  const handler = withBasicAuth(() => Promise.resolve(new Response("ok")), {
    users,
    check: bcrypt.compare,
    decoyHash: decoy,
    onFailure: () => failures++,
    onBusy: () => assert.fail("busy"),
    now: Date.now,
  });
  const status = async (authorization: string) => {
    const response = await handler(get("/metrics", authorization));
    await response.body?.cancel();
    return response.status;
  };
  assert.equal(await status(basic("b:s3cret")), 200);
  assert.equal(await status(basic("y:s3cret")), 200);
  assert.equal(await status(basic("b:s3cret ")), 401);
  assert.equal(await status(basic("b:S3cret")), 401);
  assert.equal(await status(basic("nobody:s3cret")), 401);
  assert.equal(failures, 3);
});

/** Sends `authorization` to /metrics and returns the status and headers, discarding the body. */
async function send(handler: (request: Request) => Promise<Response>, authorization?: string) {
  const response = await handler(get("/metrics", authorization));
  await response.body?.cancel();
  return { status: response.status, retryAfter: response.headers.get("retry-after") };
}

Deno.test("withBasicAuth() compares right credentials once, then lets them through without comparing", async () => {
  const { handler, comparisons, handled, failures } = setup();
  for (let i = 0; i < 3; i++) assert.equal((await send(handler, basic("prometheus:s3cret"))).status, 200);
  assert.deepEqual(comparisons, [["s3cret", "HASH-prometheus"]]);
  assert.deepEqual(handled, ["/metrics", "/metrics", "/metrics"]);
  assert.equal(failures(), 0);
});

Deno.test("withBasicAuth() never remembers a wrong password: each attempt is compared and refused", async () => {
  const { handler, comparisons, failures } = setup();
  assert.equal((await send(handler, basic("prometheus:s3cret"))).status, 200);
  for (let i = 0; i < 3; i++) assert.equal((await send(handler, basic("prometheus:wrong"))).status, 401);
  assert.equal((await send(handler, basic("mallory:wrong"))).status, 401);
  assert.equal((await send(handler, basic("mallory:wrong"))).status, 401);
  assert.deepEqual(comparisons, [
    ["s3cret", "HASH-prometheus"],
    ["wrong", "HASH-prometheus"],
    ["wrong", "HASH-prometheus"],
    ["wrong", "HASH-prometheus"],
    ["wrong", DECOY],
    ["wrong", DECOY],
  ]);
  assert.equal(failures(), 5);
});

Deno.test("withBasicAuth() remembers a user with that user's password only", async () => {
  const { handler, comparisons } = setup();
  assert.equal((await send(handler, basic("grafana:other"))).status, 200);
  assert.equal((await send(handler, basic("prometheus:other"))).status, 401, "grafana's password for prometheus");
  assert.equal((await send(handler, basic("Grafana:other"))).status, 401, "the user name in another case");
  assert.equal((await send(handler, basic("grafana:other "))).status, 401, "the password with a space");
  assert.deepEqual(comparisons, [
    ["other", "HASH-grafana"],
    ["other", "HASH-prometheus"],
    ["other", DECOY],
    ["other ", "HASH-grafana"],
  ]);
});

Deno.test("withBasicAuth() forgets credentials unused for rememberMs, and each use extends that", async () => {
  const { handler, comparisons, clock } = setup();
  const start = clock.ms;
  const minutes = (n: number) => start + n * 60_000;
  const compared = async (at: number) => {
    clock.ms = at;
    const before = comparisons.length;
    assert.equal((await send(handler, basic("prometheus:s3cret"))).status, 200);
    return comparisons.length > before;
  };
  assert.equal(await compared(start), true);
  assert.equal(await compared(minutes(4)), false);
  assert.equal(await compared(minutes(8.99)), false, "used at 4 minutes: remembered until 9");
  assert.equal(await compared(minutes(13.99) - 1), false);
  assert.equal(await compared(minutes(18.99)), true, "unused for 5 minutes");
  assert.equal(await compared(minutes(19)), false);

  const short = setup({ rememberMs: 1000 });
  short.clock.ms = start;
  assert.equal((await send(short.handler, basic("prometheus:s3cret"))).status, 200);
  short.clock.ms = start + 1000;
  assert.equal((await send(short.handler, basic("prometheus:s3cret"))).status, 200);
  assert.equal(short.comparisons.length, 2);
});

Deno.test("withBasicAuth() remembers at most maxRemembered credentials, forgetting the least recently used", async () => {
  const users = new Map([["a", "HASH-a"], ["b", "HASH-b"], ["c", "HASH-c"]]);
  const compared: string[] = [];
  const handler = withBasicAuth(() => Promise.resolve(new Response("ok")), {
    users,
    check: (password, hash) => {
      compared.push(hash);
      return Promise.resolve(hash === `HASH-${password}`);
    },
    decoyHash: DECOY,
    onFailure: () => assert.fail("refused"),
    onBusy: () => assert.fail("busy"),
    now: () => 0,
    maxRemembered: 2,
  });
  for (const user of ["a", "b", "a", "c", "a", "b"]) {
    assert.equal((await send(handler, basic(`${user}:${user}`))).status, 200, user);
  }
  // a and b remembered; a used again, so c pushes b out; b then pushes c out.
  assert.deepEqual(compared, ["HASH-a", "HASH-b", "HASH-c", "HASH-b"]);
});

/** A password check whose comparisons, after `hold()`, wait until `release()`; each answers as `PASSWORDS` says. */
function heldCheck() {
  const held: (() => void)[] = [];
  const started: [string, string][] = [];
  let holding = false;
  const check: PasswordCheck = (password, hash) => {
    started.push([password, hash]);
    const answer = PASSWORDS[hash] === password;
    if (!holding) return Promise.resolve(answer);
    return new Promise((resolve) => held.push(() => resolve(answer)));
  };
  return {
    check,
    started,
    hold: () => (holding = true),
    /** Answers the held comparisons, and lets later ones answer at once. */
    release: () => {
      holding = false;
      held.splice(0).forEach((resolve) => resolve());
    },
    /** Resolves once `count` comparisons have started (the handler digests the credentials first). */
    async startedAll(count: number) {
      for (let turn = 0; started.length < count && turn < 100; turn++) await new Promise((ok) => setTimeout(ok, 0));
      assert.equal(started.length, count);
    },
  };
}

Deno.test("withBasicAuth() refuses at once, with 429 and Retry-After, requests beyond 4 comparisons under way", async () => {
  const gate = heldCheck();
  const { handler, handled, failures, busy } = setup({ check: gate.check });
  assert.equal((await send(handler, basic("grafana:other"))).status, 200);
  gate.hold();
  const waiting = Array.from({ length: 4 }, (_, i) => send(handler, basic(`prometheus:wrong-${i}`)));
  await gate.startedAll(5);
  // Whoever asks: a known user, an unknown one, the right password not yet remembered, no credentials at all.
  for (const authorization of ["prometheus:x", "mallory:x", "prometheus:s3cret", undefined]) {
    const answer = await send(handler, authorization && basic(authorization));
    assert.deepEqual(answer, { status: 429, retryAfter: "1" }, authorization);
  }
  assert.equal(gate.started.length, 5, "no comparison started for the refused requests");
  assert.equal(busy(), 4);
  assert.equal(failures(), 0);
  // Remembered credentials and /healthz need no comparison, so they pass while comparisons are held.
  assert.equal((await send(handler, basic("grafana:other"))).status, 200);
  assert.equal((await handler(get("/healthz"))).status, 200);

  gate.release();
  assert.deepEqual((await Promise.all(waiting)).map((answer) => answer.status), [401, 401, 401, 401]);
  assert.equal(failures(), 4);
  // The slots are free again.
  assert.equal((await send(handler, basic("prometheus:s3cret"))).status, 200);
  assert.deepEqual(handled, ["/metrics", "/metrics", "/healthz", "/metrics"]);
  assert.equal(busy(), 4);
});

Deno.test("withBasicAuth() takes maxComparisons, and a comparison that throws frees its slot", async () => {
  let fail = true;
  const { handler, busy } = setup({
    maxComparisons: 1,
    check: () => (fail ? Promise.reject(new Error("the bcrypt worker failed")) : Promise.resolve(false)),
  });
  await assert.rejects(handler(get("/metrics", basic("prometheus:s3cret"))), /the bcrypt worker failed/);
  fail = false;
  assert.equal((await send(handler, basic("prometheus:s3cret"))).status, 401);
  assert.equal(busy(), 0);

  const gate = heldCheck();
  const one = setup({ maxComparisons: 1, check: gate.check });
  gate.hold();
  const waiting = send(one.handler, basic("prometheus:s3cret"));
  await gate.startedAll(1);
  assert.equal((await send(one.handler, basic("prometheus:s3cret"))).status, 429);
  gate.release();
  assert.equal((await waiting).status, 200);
  assert.equal(one.busy(), 1);
});
