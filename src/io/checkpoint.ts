/**
 * The checkpoint file of a run directory (Node): `checkpoint.bin`, written atomically (a temporary file, fsync,
 * rename, then fsync of the directory), so the previous checkpoint stays whole until the new one is complete and
 * a kill at any moment leaves one readable checkpoint or none.
 *
 * Layout: the 8-byte magic `GSCKPT1\n`; a little-endian u32 header length; the header (UTF-8 JSON); a u32 masked
 * CRC-32C of the header; the payload (structured-clone bytes of `node:v8`, which keep typed arrays bit for
 * bit). The header holds the payload's length and masked CRC-32C. Every field is checked on reading, and a
 * problem is named (truncated, corrupt, another version) rather than read as wrong numbers.
 *
 * @example
 * writeCheckpoint('runs/a/checkpoint.bin', { step: 50 }, state);
 * const { header, payload } = readCheckpoint('runs/a/checkpoint.bin');
 */
import { closeSync, fsyncSync, openSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { GradscopeError, type ErrorCode } from '../util/errors.js';
import { maskedCrc32c } from './crc32c.js';
import { writeFileAtomic } from './jsonl.js';

export const CHECKPOINT_FILE = 'checkpoint.bin';
const MAGIC = new TextEncoder().encode('GSCKPT1\n');
const MAX_HEADER_BYTES = 1 << 20;

/** A checkpoint that cannot be used: `path` is the file, `problem` what is wrong with it (the CLI exits 2). */
export class CheckpointError extends GradscopeError {
  override readonly name = 'CheckpointError';
  declare readonly problem: string;
  constructor(path: string, problem: string, code: ErrorCode = 'unreadable') {
    super({ code, path, problem });
  }
}

export interface CheckpointFile<H> {
  header: H;
  payload: unknown;
}

interface StoredHeader<H> {
  user: H;
  payloadBytes: number;
  payloadCrc: number;
}

/** Write `header` (JSON) and `payload` (structured-clone data) atomically to `path`. */
export function writeCheckpoint<H>(path: string, header: H, payload: unknown): void {
  const body = new Uint8Array(serialize(payload));
  const stored: StoredHeader<H> = {
    user: header,
    payloadBytes: body.length,
    payloadCrc: maskedCrc32c(body),
  };
  const headerBytes = new TextEncoder().encode(JSON.stringify(stored));
  const bytes = new Uint8Array(MAGIC.length + 8 + headerBytes.length + body.length);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  view.setUint32(MAGIC.length, headerBytes.length, true);
  bytes.set(headerBytes, MAGIC.length + 4);
  view.setUint32(MAGIC.length + 4 + headerBytes.length, maskedCrc32c(headerBytes), true);
  bytes.set(body, MAGIC.length + 8 + headerBytes.length);
  writeFileAtomic(path, bytes);
  syncDirectory(dirname(path));
}

/** Make a rename in `dir` durable (a crash right after it keeps the new name). */
function syncDirectory(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some file systems cannot fsync a directory; the rename itself is still atomic.
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** Read and check a checkpoint; throws `CheckpointError` naming what is wrong. */
export function readCheckpoint<H>(path: string): CheckpointFile<H> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (error) {
    throw new CheckpointError(
      path,
      `cannot be read (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  if (bytes.length < MAGIC.length || MAGIC.some((b, i) => bytes[i] !== b))
    throw new CheckpointError(path, 'is not a gradscope checkpoint (no GSCKPT1 header)');
  if (bytes.length < MAGIC.length + 8)
    throw new CheckpointError(path, `is truncated (${bytes.length} bytes, not even a header)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(MAGIC.length, true);
  const headerEnd = MAGIC.length + 4 + headerLength;
  if (headerLength > MAX_HEADER_BYTES || headerEnd + 4 > bytes.length)
    throw new CheckpointError(
      path,
      `is truncated (${bytes.length} bytes, its header alone needs ${headerEnd + 4})`,
    );
  const headerBytes = bytes.subarray(MAGIC.length + 4, headerEnd);
  if (view.getUint32(headerEnd, true) !== maskedCrc32c(headerBytes))
    throw new CheckpointError(path, 'is corrupt (its header checksum does not match)');
  let stored: StoredHeader<H>;
  try {
    stored = JSON.parse(new TextDecoder().decode(headerBytes)) as StoredHeader<H>;
  } catch {
    throw new CheckpointError(path, 'is corrupt (its header is not JSON)');
  }
  const body = bytes.subarray(headerEnd + 4);
  if (body.length !== stored.payloadBytes)
    throw new CheckpointError(
      path,
      `is truncated or padded (${body.length} payload bytes, the header says ${stored.payloadBytes})`,
    );
  if (maskedCrc32c(body) !== stored.payloadCrc)
    throw new CheckpointError(path, 'is corrupt (its payload checksum does not match)');
  let payload: unknown;
  try {
    payload = deserialize(body);
  } catch (error) {
    throw new CheckpointError(path, `is corrupt (${error instanceof Error ? error.message : String(error)})`);
  }
  return { header: stored.user, payload };
}
