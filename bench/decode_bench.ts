/**
 * Micro-benchmarks of reading the event stream: HTTP chunked decoding, splitting the JSON objects, and parsing
 * them into container events, for a burst of 5,000 events as dockerd sends them (one chunk per event).
 * Run with `deno task bench` or `deno bench --allow-read bench/decode_bench.ts`.
 */
import { ChunkedDecoder } from "../lib/chunked_decoder.ts";
import { parseContainerEvent } from "../lib/docker_events.ts";
import { JsonStreamDecoder } from "../lib/json_stream.ts";
import { pieces, restartBurstStream } from "./fixtures.ts";

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
