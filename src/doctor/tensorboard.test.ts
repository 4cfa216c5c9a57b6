/**
 * The doctor on TensorBoard logs in the layouts of the writers people use (fixtures/tfevents/, written by
 * python/tests/make_event_fixtures.py from real PyTorch trainings): tags mapped to layers, --tags, the report
 * when nothing maps, and truncated or corrupt files.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readEventDir } from '../io/tfevents.js';
import { gradscope } from '../testing/cli.js';
import { fixturesDir } from '../testing/fixtures.js';
import { DoctorInputError, diagnosePath } from './diagnose.js';
import { formatDiagnosis } from './format.js';
import { GradscopeError } from '../util/errors.js';
import { eventsToRecords, parseTagRules, trainingEventFiles } from './tensorboard.js';

const dir = (name: string): string => join(fixturesDir(), 'tfevents', name);

function mapped(name: string, tags: string[] = []): ReturnType<typeof eventsToRecords> {
  const files = readEventDir(dir(name), { recursive: true });
  const { training } = trainingEventFiles(dir(name), files);
  return eventsToRecords(
    training.flatMap((f) => f.events),
    { rules: parseTagRules(tags) },
  );
}

describe('TensorBoard layouts', () => {
  it('PyTorch SummaryWriter: Loss/train, grad_norm/<param>, histograms <param> and <param>.grad, one layer per module', () => {
    const m = mapped('pytorch-sigmoid');
    assert.equal(m.lossTag, 'Loss/train');
    assert.deepEqual([m.parameters, m.layers], [14, 7]);
    assert.deepEqual(m.ignored, []);
    const first = m.records[0];
    assert.equal(first?.step, 0);
    assert.deepEqual(first?.params.map((p) => `${p.name}@${p.layer}`).slice(0, 4), [
      '0.weight@0',
      '0.bias@0',
      '2.weight@1',
      '2.bias@1',
    ]);
    // Step 0 has the weight histogram (its L2 norm) and the gradient histogram (its largest entry).
    assert.ok(first?.params.every((p) => Number.isFinite(p.weightNorm) && p.weightNorm > 0));
    assert.ok(first?.params.every((p) => p.maxAbsGrad <= p.gradNorm * (1 + 1e-6)));
    assert.ok(m.records.every((r) => Math.abs(r.lr - 0.1) < 1e-7 || Number.isNaN(r.lr)));
    const report = diagnosePath(dir('pytorch-sigmoid'));
    assert.equal(report.verdict, 'vanishing');
    assert.equal(report.findings[0]?.code, 'vanishing_gradient');
    assert.equal(diagnosePath(dir('pytorch-relu-he')).verdict, 'healthy');
  });

  it('Keras write_grads: <layer>/kernel_0(_grad) and <layer>_out map to the same layer, val_loss is not the loss', () => {
    const m = mapped('keras-write-grads');
    assert.equal(m.lossTag, 'loss');
    assert.deepEqual(m.ignored, ['val_loss']);
    assert.deepEqual([m.parameters, m.layers], [14, 7]);
    const r = m.records[1];
    assert.deepEqual(r?.params.map((p) => `${p.name}@${p.layer}`).slice(0, 3), [
      'dense_1/kernel_0@0',
      'dense_1/bias_0@0',
      'dense_2/kernel_0@1',
    ]);
    assert.deepEqual(r?.activations.map((a) => `${a.name}@${a.layer}`).slice(0, 2), [
      'dense_1@0',
      'dense_2@1',
    ]);
    const sigmoidOut = r?.activations[0];
    assert.ok(sigmoidOut && sigmoidOut.mean > 0 && sigmoidOut.mean < 1, 'sigmoid outputs lie in (0, 1)');
    assert.equal(diagnosePath(dir('keras-write-grads')).verdict, 'vanishing');
  });

  it('Keras TF2 and tfjs-node: validation/ and val/ set aside, one loss clock, and a note that no gradient was logged', () => {
    const keras = diagnosePath(dir('keras-tf2'));
    assert.deepEqual(keras.input.steps, [0, 3]);
    assert.ok(keras.problems.some((p) => /evaluation logs set aside .*keras-tf2\/validation\//.test(p)));
    assert.ok(keras.problems.some((p) => /no gradient statistics in this log/.test(p)));
    // Without gradients the terminal never claims that they reach every layer.
    assert.equal(keras.input.gradients, false);
    const text = formatDiagnosis(keras);
    assert.doesNotMatch(text, /gradients reach every layer/);
    if (keras.verdict === 'healthy') assert.match(text, /gradient health is unknown/);
    assert.equal(diagnosePath(dir('pytorch-relu-he')).input.gradients, true);
    assert.equal(mapped('keras-tf2').roles.weight, 8, 'weights as <layer>/kernel_0/histogram tensors');
    const tfjs = mapped('tfjs-node');
    assert.equal(tfjs.lossTag, 'batch_loss', 'the batch clock when no per-parameter statistics are logged');
    assert.ok(tfjs.ignored.includes('epoch_loss'));
    assert.equal(tfjs.roles.weight, 8, 'dense_Dense1/kernel ...');
    const report = diagnosePath(dir('tfjs-node'));
    assert.deepEqual(report.input.steps, [1, 30]);
    assert.ok(report.problems.some((p) => /set aside .*tfjs-node\/val\//.test(p)));
  });
});

describe('--tags', () => {
  it('reads a log of its own tags once told which are which (CLI), and says how when not told', () => {
    const untold = gradscope(['doctor', dir('custom-tags')]);
    assert.equal(untold.status, 2);
    assert.match(untold.stderr, /found scalars objective, net\/0\.weight\/gradient_l2/);
    assert.match(untold.stderr, /--tags 'loss=objective' --tags 'grad=net\/\*\/gradient_l2'/);
    const told = gradscope([
      'doctor',
      dir('custom-tags'),
      '--tags',
      'loss=objective',
      '--tags',
      'grad=net/*/gradient_l2',
      '--json',
    ]);
    assert.equal(told.status, 0, told.stderr);
    assert.equal((JSON.parse(told.stdout) as { verdict: string }).verdict, 'vanishing');
    const m = mapped('custom-tags', ['loss=objective,grad=/^net\\/(.+)\\/gradient_l2$/']);
    assert.deepEqual([m.lossTag, m.parameters, m.layers], ['objective', 14, 7]);
  });

  it('rejects an unknown role or a per-parameter pattern without *, naming the entry (exit 2)', () => {
    assert.throws(
      () => parseTagRules(['gard=x/*']),
      (e: unknown) =>
        e instanceof GradscopeError &&
        e.path === '--tags' &&
        e.value === 'gard=x/*' &&
        /"gard=x\/\*".*ROLE one of loss/.test(e.message),
    );
    assert.throws(() => parseTagRules(['grad=x']), /needs \* where the parameter/);
    assert.throws(() => parseTagRules(['loss=/(/']), /regular expression/);
    const bad = gradscope(['doctor', dir('custom-tags'), '--tags', 'nonsense']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--tags: "nonsense" is not accepted; expected ROLE=PATTERN/);
  });

  it('a --tags pattern is tried before the built-in ones', () => {
    const m = mapped('pytorch-sigmoid', ['lr=Loss/*']);
    assert.equal(m.lossTag, null, 'Loss/train now read as the learning rate');
    assert.ok(m.records.some((r) => r.lr > 0.1));
  });
});

describe('damaged event files', () => {
  const corrupt = (name: string): string => join(dir('corrupt'), `events.out.tfevents.${name}`);

  it('a truncated tail or one bad data checksum: read past, noted by byte offset, still diagnosed', () => {
    for (const name of ['truncated', 'bad-data-crc']) {
      const report = diagnosePath(corrupt(name));
      assert.equal(report.verdict, 'healthy', name);
      assert.ok(report.input.records >= 59, `${name}: ${report.input.records} records`);
      assert.ok(
        report.problems.some((p) => /byte \d+: (truncated record|record data checksum mismatch)/.test(p)),
        report.problems.join('\n'),
      );
    }
  });

  it('a bad length checksum ends the file there; bytes that are no event file are an input error (exit 2)', () => {
    const report = diagnosePath(corrupt('bad-length-crc'));
    assert.ok(report.input.records < 60 && report.input.records > 10, `${report.input.records} records`);
    assert.ok(report.problems.some((p) => /length checksum mismatch .* unreadable/.test(p)));
    assert.throws(
      () => diagnosePath(corrupt('garbage')),
      (e: unknown) =>
        e instanceof DoctorInputError && /byte 0: record length checksum mismatch/.test(e.message),
    );
    const r = gradscope(['doctor', corrupt('garbage')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /found no scalar or histogram/);
  });
});
