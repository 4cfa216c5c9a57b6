/**
 * `gradscope doctor` end to end on real short runs, through the built CLI (dist/): the sick networks get
 * the right diagnosis, the cause and a fix that resolves to a valid config; corrupt logs are read as far as valid.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { resolveConfig } from '../config/index.js';
import type { ResolvedConfig } from '../config/types.js';
import { applyMergePatch, FINDING_CODES, VERDICTS, type Finding } from './findings.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 'gradscope.js');

interface Result {
  status: number;
  stdout: string;
  stderr: string;
}

function spawn(args: string[], script?: string): Result {
  const argv = script === undefined ? [bin, ...args] : ['--input-type=module', '-e', script, '--', ...args];
  const r = spawnSync(process.execPath, argv, {
    encoding: 'utf8',
    cwd: root,
    env: { ...process.env, CI: 'true' },
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

// Until main.ts registers the command, run the command module the way main.ts does (UsageError -> exit 2).
const DIRECT = `
import { doctorCommand } from ${JSON.stringify(join(root, 'dist', 'cli', 'commands', 'doctor.js'))};
import { UsageError } from ${JSON.stringify(join(root, 'dist', 'cli', 'args.js'))};
try { process.exitCode = await doctorCommand.run(process.argv.slice(1).filter((a, i) => i > 0 || a !== '--')); }
catch (e) { if (e instanceof UsageError) { process.stderr.write('gradscope: ' + e.message + '\\n'); process.exitCode = 2; } else throw e; }
`;

function doctor(args: string[]): Result {
  const r = spawn(['doctor', ...args]);
  if (r.status === 2 && r.stderr.includes('unknown command "doctor"')) return spawn(args, DIRECT);
  return r;
}

function trainRun(preset: string, steps: number): string {
  const out = join(mkdtempSync(join(tmpdir(), 'gradscope-doctor-cli-')), preset);
  const r = spawn(['run', preset, '--steps', String(steps), '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  return out;
}

function diagnoseJson(dir: string): { verdict: string; findings: Finding[] } {
  const r = doctor([dir, '--json']);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { verdict: string; findings: Finding[] };
}

function assertPatchesResolve(dir: string, findings: readonly Finding[]): void {
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as ResolvedConfig;
  for (const f of findings) {
    for (const fix of f.fixes) {
      assert.doesNotThrow(
        () => resolveConfig(applyMergePatch(config, fix.patch), { defaultName: 'x' }),
        `${f.code}: ${fix.change}`,
      );
    }
  }
}

describe('gradscope doctor on real runs', () => {
  it('deep-sigmoid (20 sigmoid layers, Xavier): vanishing, blamed on the sigmoid, relu/he or batch norm first', () => {
    const dir = trainRun('deep-sigmoid', 100);
    const { verdict, findings } = diagnoseJson(dir);
    assert.equal(verdict, 'vanishing');
    const f = findings[0];
    assert.ok(f);
    assert.equal(f.code, 'vanishing_gradient');
    assert.equal(f.severity, 'critical');
    assert.match(f.cause, /sigmoid/);
    assert.match(f.cause, /satur/);
    const first = JSON.stringify(f.fixes[0]?.patch);
    assert.ok(
      first === JSON.stringify({ model: { activation: 'relu', init: 'he-normal' } }) ||
        first === JSON.stringify({ model: { norm: 'batch' } }),
      first,
    );
    assertPatchesResolve(dir, findings);

    const text = doctor([dir]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /Diagnosis: VANISHING/);
    assert.match(text.stdout, /cause \(activation\): .*sigmoid/);
    assert.match(text.stdout, /flags: --set model.activation=relu --set model.init=he-normal/);
    assert.match(text.stdout, /1\) model\.activation "relu" \+ model\.init "he-normal"/);
    assert.match(text.stdout, /patch: \{"model":\{"activation":"relu","init":"he-normal"\}\}/);
    assert.doesNotMatch(text.stdout, /\x1b\[/, 'no colour when stdout is not a TTY');
  });

  it('relu-normal1 (ReLU, N(0,1) weights, width 256): exploding or non-finite', () => {
    const dir = trainRun('relu-normal1', 10);
    const { verdict, findings } = diagnoseJson(dir);
    assert.ok(verdict === 'exploding' || verdict === 'non-finite', verdict);
    const codes = findings.map((f) => f.code);
    assert.ok(codes.includes('non_finite'), codes.join());
    assert.ok(codes.includes('exploding_gradient'), codes.join());
    assert.deepEqual(findings.find((f) => f.code === 'exploding_gradient')?.fixes[0]?.patch, {
      model: { init: 'he-normal' },
    });
    assertPatchesResolve(dir, findings);
  });

  it('deep-relu-he (ReLU, He init, Adam): healthy', () => {
    const dir = trainRun('deep-relu-he', 300);
    const { verdict, findings } = diagnoseJson(dir);
    assert.equal(verdict, 'healthy', JSON.stringify(findings.map((f) => [f.code, f.severity, f.evidence])));
  });

  it('adding, length 50, 600 steps: the vanilla RNN vanishes through time, the LSTM that solved it does not', () => {
    const rnn = trainRun('adding-rnn', 600);
    const rnnDiagnosis = diagnoseJson(rnn);
    assert.equal(rnnDiagnosis.verdict, 'vanishing');
    const f = rnnDiagnosis.findings.find((x) => x.code === 'vanishing_through_time');
    assert.ok(f, JSON.stringify(rnnDiagnosis.findings.map((x) => x.code)));
    assert.deepEqual(
      f.fixes.slice(0, 2).map((x) => x.change),
      ['model.kind "gru"', 'model.kind "lstm" + model.forgetBias 1'],
    );
    assertPatchesResolve(rnn, rnnDiagnosis.findings);

    const lstm = trainRun('adding-lstm', 600);
    const summary = JSON.parse(readFileSync(join(lstm, 'summary.json'), 'utf8')) as {
      eval: { loss: number };
      baseline: { loss: number };
    };
    assert.ok(
      summary.eval.loss < summary.baseline.loss / 10,
      `the LSTM solved the task: eval ${summary.eval.loss}`,
    );
    const lstmDiagnosis = diagnoseJson(lstm);
    assert.ok(
      !lstmDiagnosis.findings.some((x) => x.code === 'vanishing_through_time'),
      JSON.stringify(lstmDiagnosis.findings.map((x) => x.code)),
    );
    assert.equal(lstmDiagnosis.verdict, 'healthy');
  });
});

describe('gradscope doctor on damaged or unreadable input', () => {
  const crafted = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'gradscope-doctor-cli-'));
    const line = (step: number, first: number): string =>
      JSON.stringify({
        step,
        loss: 0.69,
        lr: 0.1,
        gradNorm: 0.4,
        gradNormClipped: 0.4,
        clipped: false,
        skipped: false,
        params: [0, 1, 2, 3].map((layer) => ({
          name: `layers.${layer}.weight`,
          layer,
          gradNorm: layer === 3 ? 0.4 : first * 10 ** layer,
          weightNorm: 8,
          updateRatio: 1e-3,
          maxAbsGrad: first * 10 ** layer,
          nonFinite: 0,
        })),
        activations: [],
        findings: [],
      });
    writeFileSync(
      join(dir, 'metrics.jsonl'),
      [1, 10, 20].map((s) => line(s, 1e-12)).join('\n') +
        '\n{"step": 30, "loss": 0.6' +
        '\n' +
        line(40, 1e-12) +
        '\n',
    );
    appendFileSync(join(dir, 'metrics.jsonl'), line(50, 1e-12).slice(0, 60));
    return dir;
  };

  it('reads what is valid, names the bad lines, and still diagnoses (exit 0)', () => {
    const dir = crafted();
    const text = doctor([join(dir, 'metrics.jsonl')]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /note: .*metrics\.jsonl line 4: /);
    assert.match(text.stdout, /note: .*metrics\.jsonl line 6: /);
    assert.match(text.stdout, /Diagnosis: VANISHING/);
    const json = doctor([dir, '--json']);
    assert.equal(json.status, 0);
    assert.match(json.stderr, /line 4/);
    assert.equal((JSON.parse(json.stdout) as { verdict: string }).verdict, 'vanishing');
  });

  it('exits 2 with one clear message and no stack trace when nothing is readable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradscope-doctor-cli-'));
    writeFileSync(join(dir, 'metrics.jsonl'), '{"step": 1, "loss"\n<html>\n');
    const r = doctor([dir]);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /metrics\.jsonl: holds no readable metrics record \(.*line 1: .*line 2: /);
    assert.match(r.stderr, /accepts a run directory/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(r.stderr.trim().split('\n').length, 1);

    const missing = doctor([join(dir, 'nope')]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /nope: does not exist/);
    const usage = doctor([]);
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /doctor needs exactly one log/);
    const flag = doctor([dir, '--jsn']);
    assert.equal(flag.status, 2);
    assert.match(flag.stderr, /unknown option --jsn; accepted: --json/);
  });

  it('--json prints exactly { verdict, findings } with the contract fields', () => {
    const r = doctor([crafted(), '--json']);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(out).sort(), ['findings', 'verdict']);
    assert.ok((VERDICTS as readonly unknown[]).includes(out['verdict']));
    const findings = out['findings'] as Finding[];
    assert.ok(findings.length > 0);
    for (const f of findings) {
      assert.ok((FINDING_CODES as readonly string[]).includes(f.code));
      assert.ok(['info', 'warning', 'critical'].includes(f.severity));
      assert.equal(typeof f.title, 'string');
      assert.equal(typeof f.where, 'object');
      assert.ok(Array.isArray(f.evidence) && f.evidence.every((e) => typeof e === 'string'));
      assert.equal(typeof f.cause, 'string');
      assert.ok(Array.isArray(f.fixes) && f.fixes.length > 0);
      for (const fix of f.fixes) {
        assert.equal(typeof fix.change, 'string');
        assert.equal(typeof fix.patch, 'object');
        assert.equal(typeof fix.why, 'string');
      }
    }
  });
});
