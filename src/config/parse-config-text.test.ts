import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from './errors.js';
import { parseConfigText } from './resolve.js';

function failsAt(text: string, line: number, column: number, says?: string): ConfigError {
  let caught: unknown;
  try {
    parseConfigText(text, 'runs/a.json');
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError for ${JSON.stringify(text)}`);
  assert.equal(caught.code, 'invalid_json');
  assert.equal(caught.path, `runs/a.json:${line}:${column}`, caught.message);
  assert.deepEqual(
    { line: caught.position?.line, column: caught.position?.column },
    { line, column },
    caught.message,
  );
  assert.ok(caught.message.startsWith(`runs/a.json:${line}:${column}: `), caught.message);
  if (says !== undefined) assert.ok(caught.message.includes(says), caught.message);
  return caught;
}

/** A small seeded generator (mulberry32) so the fuzz cases are the same on every run. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomJson(random: () => number, depth: number): unknown {
  const pick = Math.floor(random() * (depth > 3 ? 5 : 7));
  const strings = ['', 'a', 'x y', 'é\u2028', 'q"uote', 'back\\slash', 'tab\t', 'emoji 🎉', '\u0001'];
  switch (pick) {
    case 0:
      return null;
    case 1:
      return random() < 0.5;
    case 2: {
      const numbers = [0, -0.5, 1e-8, 123456789, 6.02e23, -7, 0.1, 1e300];
      return numbers[Math.floor(random() * numbers.length)];
    }
    case 3:
      return strings[Math.floor(random() * strings.length)];
    case 4:
      return Math.floor(random() * 1000);
    case 5:
      return Array.from({ length: Math.floor(random() * 4) }, () => randomJson(random, depth + 1));
    default: {
      const object: Record<string, unknown> = {};
      const count = Math.floor(random() * 4);
      for (let i = 0; i < count; i++) object[`k${i}${strings[i] ?? ''}`] = randomJson(random, depth + 1);
      return object;
    }
  }
}

describe('parseConfigText', () => {
  it('parses JSON like JSON.parse', () => {
    const text =
      '{\n  "name": "x",\n  "seed": 1e2,\n  "model": {"hidden": [64, 32]},\n  "s": "\\u00e9\\n\\"" }';
    assert.deepEqual(parseConfigText(text, 'a.json'), JSON.parse(text));
    assert.deepEqual(parseConfigText('\ufeff{"seed": 1}', 'bom.json'), { seed: 1 });
    assert.deepEqual(parseConfigText(' [ ] ', 'a.json'), []);
    assert.equal(parseConfigText('-0.5e-3', 'a.json'), -0.5e-3);
  });

  it('agrees with JSON.parse on generated JSON and on damaged copies of it', () => {
    const random = generator(12345);
    let damagedRejected = 0;
    for (let i = 0; i < 400; i++) {
      const value = randomJson(random, 0);
      const text = JSON.stringify(value, null, random() < 0.5 ? 2 : undefined);
      assert.deepEqual(parseConfigText(text, 'f.json'), JSON.parse(text), text);

      const at = Math.floor(random() * (text.length + 1));
      const junk =
        [',', '}', ']', '"', ':', '0', 'x', ' ', '\n', '-', '.', 'e'][Math.floor(random() * 12)] ?? '';
      const damaged =
        random() < 0.5 ? text.slice(0, at) + junk + text.slice(at) : text.slice(0, at) + text.slice(at + 1);
      let engine: unknown;
      let engineFailed = false;
      try {
        engine = JSON.parse(damaged);
      } catch {
        engineFailed = true;
      }
      try {
        const ours = parseConfigText(damaged, 'f.json');
        assert.ok(!engineFailed, `accepted what JSON.parse rejects: ${JSON.stringify(damaged)}`);
        assert.deepEqual(ours, engine);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        damagedRejected++;
        assert.ok(
          engineFailed || error.message.includes('duplicate key'),
          `rejected what JSON.parse accepts: ${JSON.stringify(damaged)}: ${error.message}`,
        );
        assert.ok(error.position !== undefined && error.position.offset <= damaged.length);
      }
    }
    assert.ok(damagedRejected > 100, `only ${damagedRejected} damaged texts were rejected`);
  });

  it('names the line and column of a trailing comma', () => {
    failsAt('{\n  "seed": 1,\n}', 3, 1, 'trailing comma');
    failsAt('[1, 2,]', 1, 7, 'trailing comma');
  });

  it('names the position of a missing comma', () => {
    const error = failsAt('{\n  "seed": 1\n  "name": "x"\n}', 3, 3, 'comma is missing');
    assert.equal(error.value, '"');
    assert.equal(error.accepted, '"," or "}"');
  });

  it('explains the usual non-JSON habits', () => {
    failsAt('{"a": 1} // note', 1, 10, 'comments');
    failsAt('{\n  /* note */ "a": 1}', 2, 3, 'comments');
    failsAt("{'a': 1}", 1, 2, 'double quotes');
    failsAt('{a: 1}', 1, 2, 'double quotes');
    failsAt('{"a": NaN}', 1, 7, 'NaN');
    failsAt('{"a": +1}', 1, 7, 'leading +');
    failsAt('{"a": .5}', 1, 7, '0.5');
    failsAt('{"a": 01}', 1, 8, 'leading zeros');
    failsAt('{"a": "line\nbreak"}', 1, 12, 'escaped');
    failsAt('{"a": "\\x"}', 1, 8, 'escape');
  });

  it('rejects empty, truncated and doubled input', () => {
    failsAt('', 1, 1, 'end of input');
    failsAt('  \n ', 2, 2, 'end of input');
    failsAt('{"a": [1, 2', 1, 12, 'end of input');
    failsAt('{"a": "abc', 1, 7, 'never ends');
    failsAt('{} {}', 1, 4, 'one JSON value');
  });

  it('rejects a key given twice, where JSON.parse keeps the last', () => {
    failsAt('{"seed": 1,\n "seed": 2}', 2, 2, 'duplicate key "seed"');
    assert.deepEqual(parseConfigText('{"a": {"seed": 1}, "b": {"seed": 2}}', 'a.json'), {
      a: { seed: 1 },
      b: { seed: 2 },
    });
  });

  it('survives deep nesting with a ConfigError, not a stack overflow', () => {
    const deep = '['.repeat(100000);
    assert.throws(
      () => parseConfigText(deep, 'deep.json'),
      (error: unknown) => error instanceof ConfigError && error.message.includes('nesting'),
    );
  });
});
