/** Run-log files on disk (Node): JSONL appended line by line, and JSON documents. The encoding is `json.ts`. */
import {
  appendFileSync,
  closeSync,
  fstatSync,
  fsyncSync,
  openSync,
  renameSync,
  rmSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import { stringifyFinite } from './json.js';

export {
  parseFinite,
  parseJsonl,
  parseJsonlLine,
  stringifyFinite,
  TEXT_FIELDS,
  type JsonlReadResult,
} from './json.js';

/** Appends one JSON object per line, flushed to the OS at each line so a killed run keeps every line written. */
export class JsonlWriter {
  private readonly fd: number;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'a');
  }

  /** Continue a log a checkpoint measured: cut at `bytes` (lines written after the checkpoint go), then append. */
  static resume(path: string, bytes: number): JsonlWriter {
    truncateSync(path, bytes);
    return new JsonlWriter(path);
  }

  /** Bytes in the file so far. */
  size(): number {
    return fstatSync(this.fd).size;
  }

  append(record: unknown): void {
    appendFileSync(this.fd, stringifyFinite(record) + '\n');
  }

  /** Push what was written to the disk (a checkpoint must never be ahead of the log it continues). */
  sync(): void {
    fsyncSync(this.fd);
  }

  close(): void {
    try {
      fsyncSync(this.fd);
    } finally {
      closeSync(this.fd);
    }
  }
}

/**
 * Write a file atomically: a temporary file beside it, flushed to disk, then renamed over the target, so the
 * target is always either its previous content or the complete new one (never a torn file after a kill).
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const temp = `${path}.tmp-${process.pid}`;
  const fd = openSync(temp, 'w');
  try {
    const bytes: Uint8Array = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    for (let offset = 0; offset < bytes.length;)
      offset += writeSync(fd, bytes, offset, bytes.length - offset);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(temp, path);
}

/** A JSON document (non-finite numbers as strings), written atomically. */
export function writeJson(path: string, value: unknown): void {
  writeFileAtomic(path, stringifyFinite(value, 2) + '\n');
}
