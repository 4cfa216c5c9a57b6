import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseFinite, parseJsonl, stringifyFinite, TEXT_FIELDS } from './json.js';

describe('non-finite markers', () => {
  it('round-trip non-finite numbers in numeric fields and arrays of numbers', () => {
    const value = {
      loss: NaN,
      gradNorm: Infinity,
      lr: -Infinity,
      timeGrad: [1, NaN, Infinity],
      nested: { q: NaN },
    };
    const text = stringifyFinite(value);
    assert.match(text, /"loss":"NaN"/);
    assert.deepEqual(parseFinite(text), value);
  });

  it('leave text fields as text, however they are spelled: a run named "NaN" or "Infinity" stays a name', () => {
    for (const name of ['NaN', 'Infinity', '-Infinity']) {
      const summary = { name, finalLoss: NaN, firstNonFinite: { step: 3, source: name } };
      const back = parseFinite(stringifyFinite(summary)) as typeof summary;
      assert.equal(back.name, name);
      assert.equal(back.firstNonFinite.source, name);
      assert.ok(Number.isNaN(back.finalLoss));
    }
  });

  it('read arrays as their field: evidence and params hold text, timeGradByLayer numbers', () => {
    const record = {
      findings: [
        { code: 'non_finite', evidence: ['NaN', 'Infinity'], where: { params: ['NaN'], layers: [0] } },
      ],
      timeGradByLayer: [
        ['NaN', 1],
        [2, 'Infinity'],
      ],
    };
    const back = parseFinite(JSON.stringify(record)) as {
      findings: Array<{ evidence: unknown[]; where: { params: unknown[] } }>;
      timeGradByLayer: number[][];
    };
    assert.deepEqual(back.findings[0]?.evidence, ['NaN', 'Infinity']);
    assert.deepEqual(back.findings[0]?.where.params, ['NaN']);
    assert.ok(Number.isNaN(back.timeGradByLayer[0]?.[0]));
    assert.equal(back.timeGradByLayer[1]?.[1], Infinity);
  });

  it('every text field of the list is kept as text', () => {
    for (const key of TEXT_FIELDS) {
      const back = parseFinite(JSON.stringify({ [key]: 'NaN', value: 'NaN' })) as Record<string, unknown>;
      assert.equal(back[key], 'NaN', key);
      assert.ok(Number.isNaN(back['value']));
    }
  });

  it('parseJsonl names each bad line and the line of each record', () => {
    const { records, errors, lines } = parseJsonl<{ step: number }>(
      '{"step":1}\n\n[1]\n{"step":2\n{"step":3}\n',
    );
    assert.deepEqual(
      records.map((r) => r.step),
      [1, 3],
    );
    assert.deepEqual(lines, [1, 5]);
    assert.deepEqual(
      errors.map((e) => e.line),
      [3, 4],
    );
  });
});
