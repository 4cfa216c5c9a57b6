import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CheckpointError, readCheckpoint, writeCheckpoint } from './checkpoint.js';

const temp = (): string => mkdtempSync(join(tmpdir(), 'gradscope-ckpt-'));

describe('checkpoint files', () => {
  it('keep typed arrays bit for bit, NaN payloads included, and leave no temporary file', () => {
    const dir = temp();
    const path = join(dir, 'checkpoint.bin');
    const weights = new Float32Array([1.5, NaN, -0, Infinity]);
    new Uint32Array(weights.buffer)[1] = 0x7fc00123;
    writeCheckpoint(path, { step: 3 }, { weights, nested: { m: new Float64Array([1e-300]) }, n: null });
    const { header, payload } = readCheckpoint<{ step: number }>(path);
    assert.deepEqual(header, { step: 3 });
    const back = payload as { weights: Float32Array; nested: { m: Float64Array } };
    assert.deepEqual([...new Uint32Array(back.weights.slice().buffer)], [...new Uint32Array(weights.buffer)]);
    assert.equal(back.nested.m[0], 1e-300);
    assert.deepEqual(readdirSync(dir), ['checkpoint.bin']);
  });

  it('a new checkpoint replaces the previous one whole', () => {
    const path = join(temp(), 'checkpoint.bin');
    writeCheckpoint(path, { step: 1 }, { a: 1 });
    writeCheckpoint(path, { step: 2 }, { a: 2 });
    assert.deepEqual(readCheckpoint(path), { header: { step: 2 }, payload: { a: 2 } });
  });

  it('names each way a file can be broken: every truncation and every flipped byte is refused', () => {
    const path = join(temp(), 'checkpoint.bin');
    writeCheckpoint(path, { step: 1 }, { weights: new Float32Array(16).fill(0.5) });
    const bytes = new Uint8Array(readFileSync(path));
    for (let cut = 0; cut < bytes.length; cut += 7) {
      writeFileSync(path, bytes.subarray(0, cut));
      assert.throws(() => readCheckpoint(path), CheckpointError, `cut at ${cut}`);
    }
    for (let at = 0; at < bytes.length; at += 3) {
      const flipped = new Uint8Array(bytes);
      flipped[at] = (flipped[at] as number) ^ 0x10;
      writeFileSync(path, flipped);
      assert.throws(
        () => readCheckpoint(path),
        (e: unknown) => e instanceof CheckpointError && /not a gradscope|truncated|corrupt/.test(e.message),
        `byte ${at}`,
      );
    }
    assert.throws(() => readCheckpoint(join(temp(), 'missing.bin')), /cannot be read/);
  });
});
