/**
 * The recorded `/events` response in tests/testdata/events_stream.http (made by record_docker_fixtures.ts),
 * and helpers to feed bytes through the decoders in pieces.
 */
import { ChunkedDecoder } from "../../lib/docker/wire/chunked_decoder.ts";
import { parseResponseHead } from "../../lib/docker/socket.ts";
import { JsonStreamDecoder, type JsonStreamItem } from "../../lib/docker/wire/json_stream.ts";

/** The label value the recorded container carried: 2-, 3- and 4-byte UTF-8 characters. */
export const MULTIBYTE_NOTE = "héllo✓€😀";

/** The actions the recording script caused, in order (`docker stop` sends SIGTERM, then SIGKILL to `sleep`). */
export const RECORDED_ACTIONS = [
  "create",
  "start",
  "health_status: healthy",
  "rename",
  "pause",
  "unpause",
  "kill",
  "kill",
  "die",
  "stop",
  "destroy",
];

/** Every byte of the recorded response: HTTP head, then the chunked body. */
export const RECORDING: Uint8Array = Deno.readFileSync(new URL("../testdata/events_stream.http", import.meta.url));

/** The chunked body of the recording (everything after the head). */
export function recordedBody(): Uint8Array {
  const parsed = parseResponseHead(RECORDING, "events");
  if (!parsed) throw new Error("tests/testdata/events_stream.http has no complete HTTP head");
  return RECORDING.subarray(parsed.bodyStart);
}

/** Splits `bytes` at the given offsets (ascending) into consecutive pieces. */
export function splitAt(bytes: Uint8Array, ...offsets: number[]): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let from = 0;
  for (const offset of [...offsets, bytes.length]) {
    pieces.push(bytes.subarray(from, offset));
    from = offset;
  }
  return pieces;
}

/** Splits `bytes` into pieces of one byte each. */
export function bytewise(bytes: Uint8Array): Uint8Array[] {
  return Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
}

/** Feeds chunked `pieces` through a ChunkedDecoder and a JsonStreamDecoder; returns every item, end() included. */
export function decodeChunkedJson(pieces: readonly Uint8Array[]): JsonStreamItem[] {
  const chunked = new ChunkedDecoder();
  const json = new JsonStreamDecoder();
  const items: JsonStreamItem[] = [];
  for (const piece of pieces) {
    for (const payload of chunked.push(piece)) items.push(...json.push(payload));
  }
  items.push(...json.end());
  return items;
}
