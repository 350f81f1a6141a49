/**
 * Pure byte-level decoders, fed pieces of any size: HTTP/1.1 chunked transfer encoding, a stream of JSON objects,
 * and a JSON array read one element at a time.
 *
 * Imports nothing.
 * @module
 */
export { ChunkedDecoder, ChunkedEncodingError } from "./chunked_decoder.ts";
export { JsonArrayDecoder, JsonArrayError } from "./json_array_stream.ts";
export { JsonStreamDecoder } from "./json_stream.ts";
