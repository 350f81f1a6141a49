/**
 * Basic authentication in front of the handler: parsing the header, what is let through, what is refused and
 * counted, and that every refusal costs exactly one password comparison (with a decoy hash for unknown users),
 * so that timing does not tell which users exist. Also checked with the real bcryptjs.
 */
import assert from "node:assert/strict";
import bcrypt from "bcryptjs";
import { parseBasicAuth, type PasswordCheck, withBasicAuth } from "../../lib/basic_auth.ts";

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

/** A protected handler with a recording password check; the check accepts each user's own password only. */
function setup() {
  const comparisons: [string, string][] = [];
  const handled: string[] = [];
  let failures = 0;
  const check: PasswordCheck = (password, hash) => {
    comparisons.push([password, hash]);
    return Promise.resolve(PASSWORDS[hash] === password);
  };
  const inner = (request: Request) => {
    handled.push(new URL(request.url).pathname);
    return Promise.resolve(new Response("inner", { status: 200 }));
  };
  const handler = withBasicAuth(inner, USERS, check, DECOY, () => failures++);
  return { handler, comparisons, handled, failures: () => failures };
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
  const handler = withBasicAuth(
    () => Promise.resolve(new Response("ok")),
    users,
    bcrypt.compare,
    decoy,
    () => failures++,
  );
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
