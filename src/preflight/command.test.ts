/** `gradscope preflight` through its command module: the JSON the contract fixes, and invalid input. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { UsageError } from '../cli/args.js';
import { runPreflight } from '../cli/commands/preflight.js';
import { ConfigError } from '../config/index.js';
import { parseFinite } from '../io/jsonl.js';

function run(argv: string[]): { code: number; out: string } {
  let out = '';
  const code = runPreflight(argv, (text) => {
    out += text;
  });
  return { code, out };
}

function writeConfig(config: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), 'gradscope-preflight-')), 'config.json');
  writeFileSync(path, JSON.stringify(config));
  return path;
}

type Json = Record<string, unknown>;

const isNumber = (v: unknown): boolean => typeof v === 'number';

/** The "Preflight JSON" section of ../shared/CONTRACT.md, field by field. */
function assertContractShape(report: Json, recurrent: boolean): void {
  assert.equal(typeof report['networks'], 'number');
  const layers = report['layers'] as Json[];
  assert.ok(Array.isArray(layers) && layers.length > 0);
  layers.forEach((layer, l) => {
    assert.equal(layer['layer'], l, 'layers are 0-based from the input side');
    assert.ok(isNumber(layer['q']) && isNumber(layer['gradNorm2']));
  });
  const spread = report['spread'] as Json;
  assert.ok(isNumber(spread['varLogGrad']) && isNumber(spread['varLogSignal']));
  const jacobian = report['jacobian'] as Json;
  for (const key of ['meanSquaredSingular', 'varianceSquaredSingular', 'maxSingular'])
    assert.ok(isNumber(jacobian[key]), key);
  const theory = report['theory'] as Json | null;
  assert.ok('theory' in report);
  if (theory !== null) {
    assert.ok(theory['qStar'] === null || isNumber(theory['qStar']));
    assert.ok(isNumber(theory['chi1']) && isNumber(theory['depthScale']));
    assert.ok(['ordered', 'critical', 'chaotic'].includes(theory['phase'] as string));
  }
  const timeGrad = report['timeGrad'] as unknown[];
  assert.ok(Array.isArray(timeGrad) && timeGrad.every(isNumber));
  assert.equal(timeGrad.length > 0, recurrent);
  assert.ok(['healthy', 'vanishing', 'exploding'].includes(report['verdict'] as string));
  const advice = report['advice'] as unknown[];
  assert.ok(Array.isArray(advice) && advice.length > 0 && advice.every((a) => typeof a === 'string'));
  // Beyond the contract: the fixes, each the doctor's Fix (a change, a JSON merge patch, why).
  const fixes = report['fixes'] as Json[];
  assert.ok(Array.isArray(fixes));
  for (const fix of fixes) {
    assert.equal(typeof fix['change'], 'string');
    assert.equal(typeof fix['why'], 'string');
    assert.ok(typeof fix['patch'] === 'object' && fix['patch'] !== null && !Array.isArray(fix['patch']));
  }
  assert.equal(fixes.length === 0, report['verdict'] === 'healthy');
}

describe('gradscope preflight --json', () => {
  it("prints the contract's fields for an MLP preset, with the theory", () => {
    const { code, out } = run(['deep-sigmoid', '--networks', '3', '--json']);
    assert.equal(code, 0);
    const report = parseFinite(out) as Json;
    assertContractShape(report, false);
    assert.equal(report['networks'], 3);
    assert.equal((report['layers'] as Json[]).length, 20);
    assert.equal(report['verdict'], 'vanishing');
    const theory = report['theory'] as Json;
    assert.deepEqual(Object.keys(theory).slice(0, 4), ['qStar', 'chi1', 'depthScale', 'phase']);
    assert.deepEqual(Object.keys(report).slice(0, 8), [
      'networks',
      'layers',
      'spread',
      'jacobian',
      'theory',
      'timeGrad',
      'verdict',
      'advice',
    ]);
  });

  it('theory is null where no exact theory applies, and recurrent models fill timeGrad', () => {
    const path = writeConfig({ task: { name: 'adding', length: 10 }, model: { kind: 'gru', hidden: 8 } });
    const report = parseFinite(run([path, '--json', '--networks=2']).out) as Json;
    assertContractShape(report, true);
    assert.equal(report['theory'], null);
    assert.equal((report['timeGrad'] as number[]).length, 10);
  });

  it('non-finite numbers are written as the strings "NaN" and "Infinity", never dropped', () => {
    const path = writeConfig({
      model: { kind: 'mlp', depth: 12, width: 16, activation: 'relu', init: { normal: 1e30 } },
    });
    const { out } = run([path, '--json', '--networks', '1']);
    assert.match(out, /"q": "Infinity"/);
    const report = parseFinite(out) as Json;
    assertContractShape(report, false);
    assert.equal(report['verdict'], 'exploding');
    assert.match(
      (report['advice'] as string[])[0] as string,
      /^values overflow float64 by layer 5 \(chi_1 = [^)]+\): gradients explode; to reach the critical line use model\.init "he-normal"$/,
    );
  });

  it('prints readable text without --json', () => {
    const { out } = run(['deep-relu-he', '--networks', '1']);
    assert.match(out, /^preflight deep-relu-he: 1 network of 20 x 64 relu/);
    assert.match(out, /verdict: healthy/);
    assert.doesNotMatch(out, /fixes, best first/);
    const sick = run(['deep-sigmoid', '--networks', '1']).out;
    assert.match(
      sick,
      /\nfixes, best first:\n {2}1\) model\.init .*\n {5}patch: .*\n {5}flags: --set model\.init\.gain=/,
    );
  });
});

describe('gradscope preflight: invalid input is a UsageError or ConfigError (exit 2), with a clear message', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['no config', [], /exactly one config file or preset name/],
    ['two configs', ['deep-sigmoid', 'deep-relu-he'], /exactly one config file or preset name, got 2/],
    ['zero networks', ['deep-sigmoid', '--networks', '0'], /--networks must be an integer >= 1, got "0"/],
    [
      'non-integer networks',
      ['deep-sigmoid', '--networks', 'many'],
      /--networks must be an integer >= 1, got "many"/,
    ],
    ['too many networks', ['deep-sigmoid', '--networks', '5000'], /--networks must be at most 1000/],
    ['unknown preset', ['deep-sigmod'], /neither a config file nor a preset/],
    ['missing file', ['nowhere/config.json'], /does not exist/],
    [
      'unknown option',
      ['deep-sigmoid', '--steps', '3'],
      /unknown option --steps; accepted: --networks, --seed, --patch, --json, --data, --set, --help\.$/,
    ],
  ];
  for (const [label, argv, message] of cases) {
    it(label, () => {
      assert.throws(
        () => run(argv),
        (error: unknown) => error instanceof UsageError && message.test(error.message),
      );
    });
  }

  it('a config with an unknown key', () => {
    const path = writeConfig({ model: { kind: 'mlp', widht: 3 } });
    assert.throws(
      () => run([path]),
      (error: unknown) => error instanceof ConfigError && /widht/.test(error.message),
    );
  });
});
