/**
 * `/system/df` answers, decoded: the real ones recorded from Docker 20.10 (API 1.41) and Podman 4.3 by
 * tests/support/record_disk_usage_fixtures.ts, the API 1.52 shape, and answers of the wrong shape.
 */
import assert from "node:assert/strict";
import { type DiskUsage, DiskUsageDecoder, isDangling } from "../../../lib/docker/disk_usage.ts";

const encoder = new TextEncoder();
const testdata = (name: string) => Deno.readFileSync(new URL(`../../testdata/${name}`, import.meta.url));

/** Decodes `bytes` fed in pieces of `size` bytes. */
function decodeInPieces(bytes: Uint8Array, size: number, items = false): DiskUsage {
  const decoder = new DiskUsageDecoder(items);
  for (let at = 0; at < bytes.length; at += size) decoder.push(bytes.subarray(at, at + size));
  return decoder.end();
}

const MIB = 1024 * 1024;

Deno.test("DiskUsageDecoder reads Docker's recorded answer, wherever the pieces are cut", () => {
  const bytes = testdata("docker_system_df.json");
  const expected: DiskUsage = {
    images: [{ dangling: false, sizeBytes: 1985479 }, { dangling: true, sizeBytes: 1985478 }],
    containers: [
      { id: "47d067f419087a351e19b62084c035d066b6bef7aeb718f2257be43aa0253341", sizeRwBytes: 0 },
      { id: "87b4f02aea0dbeb4e948eb20a7c3215f054dafaf8d40c93a3d282a92da256189", sizeRwBytes: 3 * MIB },
    ],
    volumes: [{ name: "itest-dfrec-73592edd-vol", sizeBytes: 2 * MIB, containers: 2 }],
    // Docker 20.10 writes `"BuildCache": null` for none.
    buildCacheBytes: 0,
  };
  for (const size of [1, 7, 64, bytes.length]) assert.deepEqual(decodeInPieces(bytes, size), expected, `${size}`);
});

Deno.test("DiskUsageDecoder reads Podman's recorded answer: untagged is <none>, and SizeRw 0 is left out", () => {
  const usage = decodeInPieces(testdata("podman_system_df.json"), 5);
  assert.deepEqual(usage.images, [{ dangling: true, sizeBytes: 2134439 }, { dangling: false, sizeBytes: 2134440 }]);
  assert.deepEqual(usage.containers.map((c) => c.sizeRwBytes), [0, 3 * MIB + 12]);
  assert.deepEqual(usage.volumes, [{ name: "itest-dfrec-25aa6280-vol", sizeBytes: 2 * MIB, containers: 2 }]);
  assert.equal(usage.buildCacheBytes, 0);
});

Deno.test("DiskUsageDecoder reads API 1.52's answer to verbose=1: each kind's Items, absent when empty", () => {
  const answer = {
    ImageUsage: {
      ActiveCount: 1,
      TotalCount: 2,
      Reclaimable: 10,
      TotalSize: 30,
      Items: [
        { Id: "sha256:a", RepoTags: [], RepoDigests: [], Size: 10, SharedSize: -1, Containers: 0 },
        { Id: "sha256:b", RepoTags: ["web:1"], RepoDigests: [], Size: 20, SharedSize: -1, Containers: 1 },
      ],
    },
    ContainerUsage: { ActiveCount: 0, TotalCount: 0, Reclaimable: 0, TotalSize: 0 },
    VolumeUsage: {
      TotalCount: 1,
      Items: [{ Name: "cache", Driver: "nfs", UsageData: { Size: -1, RefCount: -1 } }],
    },
    BuildCacheUsage: {
      TotalCount: 2,
      Items: [{ ID: "x", Size: 100, Shared: false }, { ID: "y", Size: 50, Shared: true }],
    },
  };
  assert.deepEqual(decodeInPieces(encoder.encode(JSON.stringify(answer)), 3, true), {
    images: [{ dangling: true, sizeBytes: 10 }, { dangling: false, sizeBytes: 20 }],
    containers: [],
    volumes: [{ name: "cache", sizeBytes: undefined, containers: undefined }],
    buildCacheBytes: 100,
  });
  // An engine without a builder: no build cache at all, rather than an empty one.
  const { BuildCacheUsage: _, ...withoutBuilder } = answer;
  assert.equal(decodeInPieces(encoder.encode(JSON.stringify(withoutBuilder)), 64, true).buildCacheBytes, undefined);
});

Deno.test("isDangling() holds an image named by neither a tag nor a digest dangling, whatever stands for none", () => {
  assert.equal(isDangling([], []), true);
  assert.equal(isDangling(["<none>:<none>"], ["<none>@<none>"]), true);
  assert.equal(isDangling(["<none>"], []), true);
  assert.equal(isDangling(["busybox:latest"], []), false);
  // Pulled by digest: not dangling, as `docker images --filter dangling=true` has it.
  assert.equal(isDangling([], ["busybox@sha256:a599"]), false);
});

Deno.test("DiskUsageDecoder refuses an answer that is not a disk usage document", () => {
  const cases: [string, RegExp][] = [
    ["<html>502 Bad Gateway</html>", /Docker answered df with something that is not a JSON object: "<htm/],
    ['{"message":"a disk usage operation is already running"}', /df with an answer without Images/],
    ['{"Images":[', /df with a broken JSON object \(the text ended inside the object\)/],
    ['{"Images":{}}', /df with a broken JSON object \(Images is neither an array nor null\)/],
    ['{"Images":[{"Size":"big"}]}', /df with an image whose Size is not what the API gives: "big"/],
    ['{"Images":[{"Size":1,"RepoTags":"a"}]}', /df with an image whose RepoTags is not what the API gives/],
    ['{"Images":[],"Containers":[{"SizeRw":1}]}', /a container whose Id is not what the API gives/],
    ['{"Images":[],"Containers":[{"Id":"a","SizeRw":-5}]}', /a container whose SizeRw is not/],
    ['{"Images":[],"Volumes":[{"Name":"v","UsageData":{"Size":1.5}}]}', /a volume whose UsageData.Size is not/],
    ['{"Images":[],"BuildCache":[{"Size":1,"Shared":"no"}]}', /a build cache record whose Shared is not/],
    ['{"Images":[7]}', /df with an image that is not an object: 7/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => decodeInPieces(encoder.encode(text), 4), (error: Error) => {
      assert.equal(error.name, "DockerApiError", text);
      assert.equal((error as { status?: number }).status, 200, text);
      assert.match(error.message, message, text);
      return true;
    });
  }
});

Deno.test("DiskUsageDecoder stops reading an answer over 256 MiB", () => {
  const decoder = new DiskUsageDecoder(false);
  decoder.push(encoder.encode('{"Images":[],"Note":"'));
  const piece = new Uint8Array(16 * MIB).fill(0x61);
  assert.throws(() => {
    for (let i = 0; i < 17; i++) decoder.push(piece);
  }, /df with more than 268435456 bytes/);
});
