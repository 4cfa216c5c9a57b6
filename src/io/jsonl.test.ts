import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { JsonlWriter, parseFinite, writeFileAtomic, writeJson } from './jsonl.js';

describe('run-log files', () => {
  it('writeJson replaces a document whole and leaves no temporary file behind', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradscope-jsonl-'));
    const path = join(dir, 'summary.json');
    writeJson(path, { name: 'a', finalLoss: NaN });
    writeJson(path, { name: 'NaN', finalLoss: 1 });
    assert.deepEqual(parseFinite(readFileSync(path, 'utf8')), { name: 'NaN', finalLoss: 1 });
    assert.deepEqual(readdirSync(dir), ['summary.json']);
    writeFileAtomic(join(dir, 'bytes.bin'), new Uint8Array([1, 2, 3]));
    assert.deepEqual([...readFileSync(join(dir, 'bytes.bin'))], [1, 2, 3]);
  });

  it('JsonlWriter appends one line per record and keeps what was there', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradscope-jsonl-'));
    const path = join(dir, 'metrics.jsonl');
    const first = new JsonlWriter(path);
    first.append({ step: 1, loss: Infinity });
    first.close();
    const second = new JsonlWriter(path);
    second.append({ step: 2 });
    second.sync();
    second.close();
    assert.equal(readFileSync(path, 'utf8'), '{"step":1,"loss":"Infinity"}\n{"step":2}\n');
  });
});
