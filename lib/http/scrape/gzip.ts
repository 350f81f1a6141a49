/**
 * The gzip framing (RFC 1952) around deflate data made elsewhere: the header, a tail of stored blocks with the
 * trailer, and the CRC-32 of two texts joined, from the CRC of each. Pure.
 */
import { crc32 } from "node:zlib";

/** The fixed 10-byte gzip header: magic, deflate, no flags, no mtime, no extra flags, OS unknown. */
export const GZIP_HEADER = new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);

/** Zero bytes for `crc32Combine`, read a block at a time. */
const ZEROS = new Uint8Array(64 * 1024);

/** `crc32` continued from `crc` over `length` zero bytes. */
function crc32OfZeros(length: number, crc: number): number {
  for (; length > ZEROS.length; length -= ZEROS.length) crc = crc32(ZEROS, crc);
  return crc32(ZEROS.subarray(0, length), crc);
}

/**
 * The CRC-32 of `a` followed by `b`, from `crcA` (of `a`), `crcB` (of `b`) and the length of `b` in bytes, without
 * the bytes: it lets parts of a gzip body that were deflated at different times be joined without reading their
 * text again. A CRC is affine in its start value: continuing from `crcA` over `b` gives what continuing from 0 gives,
 * xor the difference the start makes, which is the same over `b` as over as many zero bytes. node:zlib's native
 * CRC runs over the zeros, which is cheap even for the largest bodies; zlib's own `crc32_combine` (GF(2) matrix
 * arithmetic), written in JavaScript, would wake V8's optimizing compilers, whose code costs an idle exporter
 * resident memory (see bench/RESULTS.md).
 * @example crc32Combine(crc32("ab"), crc32("cd"), 2) === crc32("abcd")
 */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  return (crc32OfZeros(lengthB, crcA) ^ crc32OfZeros(lengthB, 0) ^ crcB) >>> 0;
}

/** The largest stored deflate block (RFC 1951 §3.2.4: LEN is 16 bits). */
const MAX_STORED = 0xffff;

/**
 * The end of a gzip member whose deflate data so far ends at a byte boundary (as after a sync flush) and
 * covers `before` bytes of text with CRC-32 `crcBefore`: `tail` as the last, stored (uncompressed) deflate blocks,
 * then the trailer (CRC-32 and length of the whole text). The tail is a few kilobytes of live lines; compressing
 * it would set up a fresh zlib state, larger than the tail, on every scrape to save little (see bench/RESULTS.md).
 */
export function gzipTail(tail: Uint8Array, crcBefore: number, before: number): Uint8Array {
  const out = storedBlocks(tail, 8);
  const view = new DataView(out.buffer, out.length - 8);
  view.setUint32(0, crc32(tail, crcBefore) >>> 0, true);
  view.setUint32(4, (before + tail.length) % 2 ** 32, true);
  return out;
}

/**
 * `data` as the last stored blocks of a deflate stream: each block is a header byte (BFINAL on the last,
 * BTYPE 00), LEN and its complement NLEN, then the bytes. `room` zero bytes follow, for the caller to fill.
 */
function storedBlocks(data: Uint8Array, room: number): Uint8Array {
  const blocks = Math.max(1, Math.ceil(data.length / MAX_STORED));
  const out = new Uint8Array(data.length + 5 * blocks + room);
  let from = 0;
  let at = 0;
  for (let block = 1; block <= blocks; block++) {
    const length = Math.min(MAX_STORED, data.length - from);
    out[at] = block === blocks ? 1 : 0;
    out[at + 1] = length & 0xff;
    out[at + 2] = length >> 8;
    out[at + 3] = ~length & 0xff;
    out[at + 4] = (~length >> 8) & 0xff;
    out.set(data.subarray(from, from + length), at + 5);
    from += length;
    at += 5 + length;
  }
  return out;
}
