/**
 * The gzip framing (RFC 1952) around deflate data made elsewhere: the header, a tail of stored blocks with the
 * trailer, and the CRC-32 of two texts joined, from the CRC of each. Pure.
 */
import { crc32 } from "node:zlib";

/** The fixed 10-byte gzip header: magic, deflate, no flags, no mtime, no extra flags, OS unknown. */
export const GZIP_HEADER = new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);

/** The reflected CRC-32 polynomial (ISO-HDLC), as zlib and gzip use it. */
const POLY = 0xedb88320;

/** a·b modulo the CRC polynomial, both as reflected 32-bit polynomials (zlib's `multmodp`). */
function multiplyModP(a: number, b: number): number {
  let product = 0;
  for (let bit = 0x80000000; bit !== 0; bit >>>= 1) {
    if (a & bit) product ^= b;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return product >>> 0;
}

/** x^(2^k) modulo the CRC polynomial for k = 0..31 (zlib's `x2n_table`). */
const X_TO_2_TO_THE: number[] = [0x40000000];
for (let k = 1; k < 32; k++) X_TO_2_TO_THE.push(multiplyModP(X_TO_2_TO_THE[k - 1], X_TO_2_TO_THE[k - 1]));

/**
 * The CRC-32 of `a` followed by `b`, from `crcA` (of `a`), `crcB` (of `b`) and the length of `b` in bytes, as
 * zlib's `crc32_combine` works it out: in some 32 steps, without the bytes. It lets parts of a gzip body that
 * were deflated at different times be joined without reading their text again.
 * @example crc32Combine(crc32("ab"), crc32("cd"), 2) === crc32("abcd")
 */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  // crcA times x^(8·lengthB): each byte of b shifts a's remainder by 8 bits. 8 = 2^3, hence k from 3.
  let shift = 0x80000000; // x^0
  let n = lengthB;
  for (let k = 3; n > 0; k++, n = Math.floor(n / 2)) {
    if (n % 2 === 1) shift = multiplyModP(X_TO_2_TO_THE[k % 32], shift);
  }
  return (multiplyModP(shift, crcA) ^ crcB) >>> 0;
}

/** The largest stored deflate block (RFC 1951 §3.2.4: LEN is 16 bits). */
const MAX_STORED = 0xffff;

/**
 * The end of a gzip member whose deflate data so far ends at a byte boundary (as after a sync flush) and
 * covers `before` bytes of text with CRC-32 `crcBefore`: `tail` as the last, stored (uncompressed) deflate blocks,
 * then the trailer (CRC-32 and length of the whole text). The tail is a few kilobytes of live lines; compressing
 * it would set up a fresh 256 KiB zlib state on every scrape to save about 2 KB.
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
