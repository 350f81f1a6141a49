/**
 * Micro-benchmarks of reading the event stream: HTTP chunked decoding, splitting the JSON objects, and parsing
 * them into container events, for a burst of 5,000 events as dockerd sends them (one chunk per event); and of
 * decoding a 10,000-container list an entry at a time, against one `JSON.parse` of the whole.
 * Run with `deno task bench` or `deno bench --allow-read bench/decode_bench.ts`.
 */
import { ChunkedDecoder } from "../lib/docker/wire/chunked_decoder.ts";
import { parseContainerEvent } from "../lib/docker/events.ts";
import { JsonStreamDecoder } from "../lib/docker/wire/json_stream.ts";
import { JsonArrayDecoder } from "../lib/docker/wire/json_array_stream.ts";
import { pieces, restartBurstStream, syntheticContainers } from "./fixtures.ts";
import { listEntry } from "./synthetic_engine.ts";

const stream = restartBurstStream(1_000);
const EVENTS = 5_000;

for (const size of [64 * 1024, 512]) {
  const reads = pieces(stream, size);
  const label = size >= 1024 ? `${size / 1024} KiB reads` : `${size} B reads`;
  Deno.bench({
    name: `ChunkedDecoder: ${EVENTS} events (${(stream.length / 1e6).toFixed(1)} MB) in ${label}`,
    group: label,
    fn: () => {
      const decoder = new ChunkedDecoder();
      for (const read of reads) decoder.push(read);
    },
  });
  Deno.bench({
    name: `chunked + JSON split + parseContainerEvent: ${EVENTS} events in ${label}`,
    group: label,
    baseline: true,
    fn: () => {
      const chunked = new ChunkedDecoder();
      const json = new JsonStreamDecoder();
      let events = 0;
      for (const read of reads) {
        for (const payload of chunked.push(read)) {
          for (const item of json.push(payload)) if (item.ok && parseContainerEvent(item.value)) events++;
        }
      }
      if (events !== EVENTS) throw new Error(`decoded ${events} events, not ${EVENTS}`);
    },
  });
}

const list = new TextEncoder().encode(`[${syntheticContainers(10_000).map(listEntry).join(",")}]`);
const listReads = pieces(list, 64 * 1024);
const listLabel = `a list of 10,000 containers (${(list.length / 1e6).toFixed(1)} MB)`;

Deno.bench({
  name: `JSON.parse of ${listLabel}, whole`,
  group: "list",
  baseline: true,
  fn: () => {
    if (JSON.parse(new TextDecoder().decode(list)).length !== 10_000) throw new Error("not 10,000 entries");
  },
});

Deno.bench({
  name: `JsonArrayDecoder of ${listLabel}, in 64 KiB reads`,
  group: "list",
  fn: () => {
    const decoder = new JsonArrayDecoder();
    let entries = 0;
    for (const read of listReads) entries += decoder.push(read).length;
    decoder.end();
    if (entries !== 10_000) throw new Error(`decoded ${entries} entries, not 10,000`);
  },
});

// The worst case for the scan inside strings: one event of nearly 1 MB whose label is a newline every other
// character (a multi-line label), each one an escape, read 64 KiB at a time as the buffer grows.
const escapeDense = new TextEncoder().encode(
  JSON.stringify({
    Type: "container",
    Action: "create",
    Actor: { ID: "c0ffee", Attributes: { l: "a\n".repeat(330_000) } },
  }) +
    "\n",
);
const escapeDenseReads = pieces(escapeDense, 64 * 1024);

Deno.bench({
  name: `JsonStreamDecoder of one ${
    (escapeDense.length / 1e6).toFixed(2)
  } MB event dense with escapes, in 64 KiB reads`,
  group: "escapes",
  fn: () => {
    const decoder = new JsonStreamDecoder();
    let items = 0;
    for (const read of escapeDenseReads) items += decoder.push(read).length;
    if (items !== 1) throw new Error(`decoded ${items} items, not 1`);
  },
});
