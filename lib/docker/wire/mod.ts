/**
 * Pure byte-level decoders, fed pieces of any size: HTTP/1.1 chunked transfer encoding, a stream of JSON objects,
 * a JSON array read one element at a time, and the arrays at given key paths of a JSON object, likewise.
 *
 * Imports nothing.
 * @module
 */
export { ChunkedDecoder, ChunkedEncodingError } from "./chunked_decoder.ts";
export { JsonArrayDecoder, JsonArrayError } from "./json_array_stream.ts";
export { JsonPathDecoder, JsonPathError } from "./json_path_stream.ts";
export type { PathElement } from "./json_path_stream.ts";
export { JsonStreamDecoder } from "./json_stream.ts";
