/** Run-log files on disk (Node): JSONL appended line by line, and JSON documents. The encoding is `json.ts`. */
import { appendFileSync, closeSync, fsyncSync, openSync, writeFileSync } from 'node:fs';
import { stringifyFinite } from './json.js';

export { parseFinite, parseJsonl, stringifyFinite, type JsonlReadResult } from './json.js';

/** Appends one JSON object per line, flushed to the OS at each line so a killed run keeps every line written. */
export class JsonlWriter {
  private readonly fd: number;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'a');
  }

  append(record: unknown): void {
    appendFileSync(this.fd, stringifyFinite(record) + '\n');
  }

  close(): void {
    try {
      fsyncSync(this.fd);
    } finally {
      closeSync(this.fd);
    }
  }
}

export function writeJson(path: string, value: unknown): void {
  writeFileSync(path, stringifyFinite(value, 2) + '\n');
}
