/**
 * The PyTorch watcher end to end: real PyTorch trainings (python/tests/torch_scenarios.py, run with Debian's
 * python3-torch) write run directories, which gradscope's doctor reads. Skipped, with the reason printed, where
 * `import torch` fails. The reading and phrasing parts are tested without PyTorch too.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { diagnosePath } from '../doctor/diagnose.js';
import { formatDiagnosis } from '../doctor/format.js';
import { parseFinite, parseJsonl } from '../io/json.js';
import type { MetricsRecord, Summary } from '../io/runlog.js';
import { packageRoot } from '../testing/fixtures.js';
import { gradscope, tempDir } from '../testing/cli.js';
import { readTorchRunConfig, torchFixText, type TorchModelInfo } from './torch-run.js';

const PYTHON = process.env['GRADSCOPE_PYTHON'] ?? '/usr/bin/python3';
const SCENARIOS = join(packageRoot(), 'python', 'tests', 'torch_scenarios.py');

function torchMissing(): string | null {
  const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.error) return `${PYTHON} cannot run (${probe.error.message}); set GRADSCOPE_PYTHON`;
  if (probe.status !== 0)
    return `${PYTHON} cannot import torch (${probe.stderr.trim().split('\n').pop()}); apt-get install python3-torch`;
  return null;
}

const skipReason = torchMissing();
if (skipReason) process.stdout.write(`# PyTorch watcher tests skipped: ${skipReason}\n`);

type Own = { [step: string]: { global: number; first: number; last: number } };
type Results = {
  'deep-sigmoid': { own: Own };
  'deep-relu-he': { own: Own };
  clipped: { own: Own };
  'optimizer-hook': { own: Own };
  'high-lr': { firstBadLoss: number };
  'high-lr-every-10': { firstBadLoss: number };
  lstm: { native: Record<string, number>; watched: Record<string, number> };
  'rnn-long': { native: Record<string, number>; watched: Record<string, number> };
  'gru-2layer': { native: Record<string, number>; watched: Record<string, number> };
};

function records(dir: string): MetricsRecord[] {
  return parseJsonl<MetricsRecord>(readFileSync(join(dir, 'metrics.jsonl'), 'utf8')).records;
}

function readJson<T>(path: string): T {
  return parseFinite(readFileSync(path, 'utf8')) as T;
}

function close(actual: number, expected: number, relative = 1e-5): void {
  assert.ok(
    Math.abs(actual - expected) <= relative * Math.abs(expected),
    `${actual} should equal ${expected} within ${relative} (relative)`,
  );
}

describe('PyTorch watcher on real trainings', { skip: skipReason ?? false }, () => {
  const out = tempDir();
  let results: Results;

  before(async () => {
    // Two processes (two cores): each pays PyTorch's import once for several scenarios.
    const run = promisify(execFile);
    const groups = [
      ['deep-sigmoid', 'deep-relu-he', 'clipped', 'optimizer-hook', 'gru-2layer'],
      ['high-lr', 'high-lr-every-10', 'lstm', 'rnn-long'],
    ];
    const outputs = await Promise.all(
      groups.map((names) => run(PYTHON, [SCENARIOS, out, ...names], { encoding: 'utf8', timeout: 120_000 })),
    );
    results = Object.assign({}, ...outputs.map((o) => JSON.parse(o.stdout) as Partial<Results>)) as Results;
  });

  it('diagnoses a deep sigmoid MLP as vanishing, with fixes in PyTorch terms', () => {
    const dir = join(out, 'deep-sigmoid');
    const report = diagnosePath(dir);
    assert.equal(report.verdict, 'vanishing');
    assert.equal(report.findings[0]?.code, 'vanishing_gradient');
    assert.ok(report.input.torch, 'the report knows it is a PyTorch run');
    assert.equal(
      report.input.config,
      join(dir, 'config.json'),
      'the model facts come from the torch config.json',
    );
    assert.match(report.findings[0]?.cause ?? '', /20-layer sigmoid MLP \(width 32/);
    const text = formatDiagnosis(report);
    assert.match(text, /a PyTorch run/);
    assert.match(
      text,
      /replace each nn\.Sigmoid\(\) by nn\.ReLU\(\); nn\.init\.kaiming_normal_\(layer\.weight/,
    );
    assert.doesNotMatch(text, /flags: --set/, 'no gradscope flags for a PyTorch run');
    assert.doesNotMatch(text, /gradscope fix/);
    // close() ran the doctor through the CLI beside the watcher and stored its verdict.
    const summary = readJson<Summary & { source: string }>(join(dir, 'summary.json'));
    assert.equal(summary.source, 'pytorch');
    assert.equal(summary.steps, 200);
    assert.equal(summary.verdict, 'vanishing');
    assert.ok(summary.findings.length > 0);
    assert.match(
      readFileSync(join(dir, 'report.html'), 'utf8'),
      /MLP 20 × 32 sigmoid/,
      'and wrote report.html',
    );
  });

  it('diagnoses the ReLU/He twin as healthy', () => {
    const report = diagnosePath(join(out, 'deep-relu-he'));
    assert.equal(report.verdict, 'healthy', formatDiagnosis(report));
  });

  it('records gradient norms equal to those PyTorch computes itself, input side first', () => {
    for (const name of ['deep-sigmoid', 'deep-relu-he'] as const) {
      const own = results[name].own;
      const logged = records(join(out, name));
      assert.deepEqual(
        logged.map((r) => r.step),
        Object.keys(own).map(Number),
        'step 1, then every 10th',
      );
      for (const r of logged) {
        const mine = own[String(r.step)] as Own[string];
        close(r.gradNorm, mine.global);
        close(r.params[0]?.gradNorm ?? NaN, mine.first);
        assert.equal(r.params[0]?.name, '0.weight');
        const last = r.params.filter((p) => p.role === 'weight').pop();
        assert.equal(last?.name, '40.weight');
        assert.equal(last?.layer, 20);
        close(last?.gradNorm ?? NaN, mine.last);
        assert.deepEqual(
          r.params.map((p) => p.layer),
          [...r.params.map((p) => p.layer)].sort((a, b) => a - b),
        );
        assert.equal(r.activations.length, 20, 'one record per activation module');
      }
    }
    const sigmoid = records(join(out, 'deep-sigmoid'))[0] as MetricsRecord;
    assert.equal(
      sigmoid.lr,
      0.1,
      'the learning rate is read from the optimiser found holding the parameters',
    );
    assert.ok(sigmoid.activations.every((a) => a.dead === 0 && a.saturated >= 0 && a.saturated <= 1));
    const relu = records(join(out, 'deep-relu-he'));
    assert.ok(
      relu.some((r) => r.activations.some((a) => a.dead > 0)),
      'ReLU units dead for a whole batch',
    );
  });

  it('measures the norm before and after clip_grad_norm_ without wrapping it', () => {
    const dir = join(out, 'clipped');
    const own = results.clipped.own;
    const logged = records(dir);
    let clipped = 0;
    for (const r of logged) {
      close(r.gradNorm, (own[String(r.step)] as Own[string]).global);
      if (r.gradNorm > 0.5) {
        clipped++;
        assert.equal(r.clipped, true);
        close(r.gradNormClipped, 0.5, 1e-4);
      } else {
        assert.equal(r.clipped, false);
        close(r.gradNormClipped, r.gradNorm);
      }
    }
    assert.ok(clipped > 0, 'some steps were clipped');
    const config = readJson<{ clip: unknown }>(join(dir, 'config.json'));
    assert.deepEqual(config.clip, { name: 'norm', max: 0.5 });
    const summary = readJson<Summary>(join(dir, 'summary.json'));
    assert.equal(summary.clippedSteps, clipped);
  });

  it('hooked into optimizer.step(), takes the loss from backward() and the update from the step', () => {
    const logged = records(join(out, 'optimizer-hook'));
    assert.deepEqual(
      logged.map((r) => r.step),
      [1, 5, 10, 15, 20, 25, 30],
    );
    for (const r of logged) {
      assert.ok(Number.isFinite(r.loss) && r.loss > 0, `loss at step ${r.step}: ${r.loss}`);
      assert.equal(r.lr, 0.02);
      close(r.gradNorm, (results['optimizer-hook'].own[String(r.step)] as Own[string]).global);
      assert.ok(r.params.every((p) => p.updateRatio > 0 && Number.isFinite(p.updateRatio)));
    }
  });

  it('names the first module whose output turned non-finite at a high learning rate', () => {
    const every1 = readJson<Summary>(join(out, 'high-lr', 'summary.json'));
    const bad = results['high-lr'].firstBadLoss;
    assert.equal(every1.firstNonFinite?.step, bad);
    assert.match(
      every1.firstNonFinite?.source ?? '',
      /^module \d+ \(Linear\) produced \d+ non-finite value\(s\) in its output \[64, 64\] from a finite input and finite weights$/,
    );
    // Logged every 10th step: the bad step is recorded anyway, and the next one is watched to name the module.
    const every10 = readJson<Summary & { firstNonFinite: { module?: { step: number; source: string } } }>(
      join(out, 'high-lr-every-10', 'summary.json'),
    );
    const bad10 = results['high-lr-every-10'].firstBadLoss;
    assert.equal(every10.firstNonFinite.step, bad10);
    assert.equal(every10.firstNonFinite.module?.step, bad10 + 1);
    assert.match(every10.firstNonFinite.module?.source ?? '', /^module \d+ \(Linear\)/);
    const steps = records(join(out, 'high-lr-every-10')).map((r) => r.step);
    assert.ok(steps.includes(bad10) && steps.includes(bad10 + 1), `records at ${steps.join(', ')}`);
    const report = diagnosePath(join(out, 'high-lr'));
    assert.ok(['exploding', 'non-finite'].includes(report.verdict), report.verdict);
  });

  it('records an LSTM per time step, with the gradients of torch’s own fused kernel', () => {
    const { native, watched } = results.lstm;
    for (const [name, norm] of Object.entries(native)) close(watched[name] ?? NaN, norm);
    const logged = records(join(out, 'lstm'));
    for (const r of logged) {
      assert.equal(r.timeGrad?.length, 20, `timeGrad at step ${r.step}`);
      assert.ok(r.timeGrad.every((g) => Number.isFinite(g) && g >= 0));
      assert.ok(Number.isFinite(r.timeGradFactor));
    }
    const config = readJson<{ model: { kind: string; hidden: number }; task: { length: number } }>(
      join(out, 'lstm', 'config.json'),
    );
    assert.equal(config.model.kind, 'lstm');
    assert.equal(config.model.hidden, 32);
    assert.equal(config.task.length, 20);
  });

  it('unrolls a 2-layer GRU with the gradients of torch’s own kernel, one time trace per layer', () => {
    const { native, watched } = results['gru-2layer'];
    assert.equal(Object.keys(native).length, 10, 'both layers and the head');
    for (const [name, norm] of Object.entries(native)) close(watched[name] ?? NaN, norm);
    const logged = records(join(out, 'gru-2layer'));
    assert.deepEqual(
      logged.map((r) => r.step),
      [1, 5, 10],
    );
    for (const r of logged) {
      assert.equal(r.timeGradByLayer?.length, 2, `two layers traced at step ${r.step}`);
      assert.deepEqual(r.timeGrad, r.timeGradByLayer?.[1], 'timeGrad is the top layer');
      assert.ok(r.timeGrad.length === 15 && r.timeGrad.every((g) => Number.isFinite(g) && g > 0));
    }
    const config = readJson<{ model: { kind: string; layers: number } }>(
      join(out, 'gru-2layer', 'config.json'),
    );
    assert.deepEqual([config.model.kind, config.model.layers], ['gru', 2]);
  });

  it('diagnoses a vanilla RNN on a long adding task as vanishing through time', () => {
    const { native, watched } = results['rnn-long'];
    for (const [name, norm] of Object.entries(native)) close(watched[name] ?? NaN, norm);
    const report = diagnosePath(join(out, 'rnn-long'));
    assert.equal(report.verdict, 'vanishing');
    assert.ok(report.findings.some((f) => f.code === 'vanishing_through_time'));
    assert.match(report.findings[0]?.cause ?? '', /vanilla tanh RNN .* over 60 time steps/);
  });

  it('is read by the gradscope doctor command', () => {
    const r = gradscope(['doctor', join(out, 'deep-sigmoid'), '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { verdict: string }).verdict, 'vanishing');
  });
});

describe('reading a PyTorch config.json', () => {
  const torchConfig = {
    source: 'pytorch',
    name: 'mine',
    task: { name: 'pytorch' },
    model: {
      kind: 'mlp',
      hidden: [16, 16],
      activation: 'tanh',
      init: { gain: 0.58, base: 'lecun-normal' },
      bias: 0,
      norm: 'none',
      residual: false,
      dropout: 0,
    },
    optimizer: { name: 'adam', learningRate: 0.001 },
    clip: { name: 'none' },
    guard: 'off',
    train: { steps: 100, batchSize: 32, bptt: 0 },
    monitor: { every: 10, timesteps: false },
    torch: {
      version: '1.13',
      module: 'Sequential',
      layers: [{ name: '0', type: 'Linear', layer: 0, activation: 'tanh' }],
      activations: [{ name: '1', type: 'Tanh', activation: 'tanh' }],
      optimizer: { class: 'Adam' },
    },
  };

  it('resolves the gradscope terms and keeps the task a PyTorch one', () => {
    const read = readTorchRunConfig(torchConfig);
    assert.ok(read?.config);
    assert.equal(read.config.task.name, 'pytorch');
    assert.equal(read.config.model.kind, 'mlp');
    assert.equal(read.config.optimizer.learningRate, 0.001);
    assert.equal(read.torch.optimizer?.class, 'Adam');
    assert.deepEqual(read.problems, []);
  });

  it('is generic, and says why, without a model or an optimiser', () => {
    const noModel = readTorchRunConfig({ ...torchConfig, model: undefined });
    assert.equal(noModel?.config, null);
    assert.match(noModel?.problems[0] ?? '', /generic/);
    const noOptimizer = readTorchRunConfig({ ...torchConfig, optimizer: undefined });
    assert.equal(noOptimizer?.config, null);
    assert.match(noOptimizer?.problems[0] ?? '', /optimizer=/);
    const bad = readTorchRunConfig({ ...torchConfig, model: { ...torchConfig.model, activation: 'swish' } });
    assert.equal(bad?.config, null);
    assert.match(bad?.problems[0] ?? '', /not accepted .*activation/);
  });

  it('leaves gradscope configs alone', () => {
    assert.equal(readTorchRunConfig({ ...torchConfig, source: undefined }), null);
    assert.equal(readTorchRunConfig(null), null);
  });

  it('phrases fixes as PyTorch changes', () => {
    const torch = readTorchRunConfig(torchConfig)?.torch as TorchModelInfo;
    const text = (patch: object): string =>
      torchFixText({ change: 'x', why: '', patch: patch as never }, torch);
    assert.equal(
      text({ clip: { name: 'norm', max: 1 } }),
      'torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0) between loss.backward() and optimizer.step()',
    );
    assert.equal(
      text({ model: { activation: 'relu', init: 'he-normal' } }),
      'replace each nn.Tanh() by nn.ReLU(); nn.init.kaiming_normal_(layer.weight, nonlinearity="relu") for each nn.Linear',
    );
    assert.equal(
      text({ model: { init: 'xavier-uniform' } }),
      'nn.init.xavier_uniform_(layer.weight, gain=nn.init.calculate_gain("tanh")) for each nn.Linear',
    );
    assert.equal(
      text({ optimizer: { learningRate: 0.0001 } }),
      'learning rate 0.0001: torch.optim.Adam(model.parameters(), lr=0.0001)',
    );
    assert.equal(text({ model: { norm: 'batch' } }), 'add nn.BatchNorm1d(width) after each hidden nn.Linear');
    assert.equal(text({ nothing: 1 }), 'x', 'a patch without a PyTorch counterpart keeps its config terms');
  });
});

describe('gradscope torch', () => {
  it('prints the bundled watcher and a three-line usage', () => {
    const r = gradscope(['torch']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 4);
    assert.equal(lines[0], join(packageRoot(), 'python', 'gradscope_torch.py'));
    assert.match(lines[1] ?? '', /import gradscope_torch/);
    assert.match(lines[2] ?? '', /gradscope_torch\.watch\(model, "runs\/mine", every=10\)/);
    assert.match(lines[3] ?? '', /w\.step\(loss\)/);
    assert.equal(gradscope(['torch', '--path']).stdout, `${lines[0]}\n`);
    const bad = gradscope(['torch', 'extra']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /torch takes no arguments/);
  });
});
