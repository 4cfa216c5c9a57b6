/**
 * Issue 12 end to end: conv models from the config, through `gradscope run`.
 * - Bad input exits 2 before any run directory exists, naming the field, the value and the fix: a conv model on a
 *   task without images, a stride of 0, a kernel larger than the image a layer gets, channels that disagree.
 * - A small CNN on MNIST images reaches 97% held-out accuracy.
 * - The deep plain conv net (`plain-cnn-deep`) is diagnosed while its ResNet twin (`resnet-deep`) trains
 *   (He et al. 2016a); the BN-free unscaled ResNet (`resnet-nobn`) blows up where the same net with Fixup
 *   (Zhang et al. 2019) trains.
 */
import type { Finding } from '../doctor/findings.js';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gradscope, tempDir } from '../testing/cli.js';

interface Summary {
  steps: number;
  verdict: string;
  eval: { loss: number | string; accuracy?: number };
  findings: { code: string }[];
}

function writeConfig(dir: string, file: string, config: unknown): string {
  const path = join(dir, file);
  writeFileSync(path, JSON.stringify(config));
  return path;
}

/** `gradscope run ...args --json` into a fresh directory: the exit status (0 unless `exits` says) and the summary. */
function run(dir: string, name: string, args: readonly string[], exits: readonly number[] = [0]): Summary {
  const r = gradscope(['run', ...args, '--out', join(dir, name), '--json']);
  assert.ok(exits.includes(r.status), `exit ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Summary;
}

describe('conv models from the config: bad input exits 2 naming the field, the value and the fix', () => {
  const dir = tempDir();
  const refused = (name: string, config: unknown, ...texts: RegExp[]): void => {
    const out = join(dir, name);
    const r = gradscope(['run', writeConfig(dir, `${name}.json`, config), '--out', out]);
    assert.equal(r.status, 2, r.stderr);
    for (const text of texts) assert.match(r.stderr, text);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(existsSync(out), false, 'no run directory for a refused config');
  };

  it('a conv model on a task without images', () => {
    refused(
      'no-images',
      { task: 'spirals', model: { kind: 'cnn' } },
      /model\.kind: "cnn" does not fit task "spirals"/,
      /use an image task \(mnist\|images\)/,
    );
    refused('no-images-resnet', { task: 'adding', model: { kind: 'resnet' } }, /model\.kind: "resnet"/);
  });

  it('a stride of 0', () => {
    refused(
      'stride-0',
      { task: 'images', model: { kind: 'cnn', stride: 0 } },
      /model\.stride: 0 is not accepted; expected an integer >= 1/,
      /use 1 \(or 2 to halve the image\)/,
    );
  });

  it('a kernel larger than the input a layer gets', () => {
    refused(
      'kernel',
      { task: 'images', model: { kind: 'cnn', depth: 3, kernel: 5 } },
      /model\.kernel: a 5x5 kernel does not fit the 3x3 image conv layer 2 gets/,
      /"pool": "none"/,
    );
  });

  it('channels that do not match depth and width', () => {
    refused(
      'channels',
      { task: 'images', model: { kind: 'cnn', channels: [4, 8], width: 6 } },
      /model\.channels: \[4,8\] disagrees with width 6/,
      /give either "channels" or "depth" and "width"/,
    );
  });
});

describe('conv models from the config: training', () => {
  const dir = tempDir();

  it('a small CNN on MNIST images reaches 97% held-out accuracy', () => {
    const summary = run(dir, 'mnist', ['cnn-mnist']);
    assert.equal(summary.verdict, 'healthy', JSON.stringify(summary.findings));
    assert.ok((summary.eval.accuracy ?? 0) >= 0.97, `accuracy ${summary.eval.accuracy}`);
  });

  it('the deep plain conv net is diagnosed while its ResNet twin of the same depth trains', () => {
    const plain = run(dir, 'plain', ['plain-cnn-deep', '--steps', '100']);
    assert.ok(['vanishing', 'not-learning', 'dead-units'].includes(plain.verdict), plain.verdict);
    // its first fix is what cures it (docs/DOCTOR.md, conv and residual nets): batch norm or the shortcuts back
    const findings = plain.findings as unknown as Finding[];
    const lead = findings.find((f) => f.severity !== 'info');
    assert.ok(
      ['{"model":{"norm":"batch"}}', '{"model":{"shortcut":true}}'].includes(
        JSON.stringify(lead?.fixes[0]?.patch),
      ),
      JSON.stringify(lead?.fixes[0]),
    );
    assert.ok((plain.eval.accuracy ?? 1) < 0.4, `plain accuracy ${plain.eval.accuracy} (chance 0.25)`);
    const resnet = run(dir, 'resnet', ['resnet-deep', '--steps', '100']);
    assert.equal(resnet.verdict, 'healthy', JSON.stringify(resnet.findings));
    assert.ok((resnet.eval.accuracy ?? 0) >= 0.7, `resnet accuracy ${resnet.eval.accuracy}`);
  });

  it('BN-free: the unscaled ResNet blows up at a depth where the Fixup one trains', () => {
    // Exit 3: the skip guard met train.guardPatience non-finite steps in a row and stopped the run (CONTRACT.md).
    const unscaled = run(dir, 'nobn', ['resnet-nobn', '--steps', '100'], [0, 3]);
    assert.ok(['non-finite', 'exploding'].includes(unscaled.verdict), unscaled.verdict);
    assert.ok((unscaled.eval.accuracy ?? 0) <= 0.3, `unscaled accuracy ${unscaled.eval.accuracy}`);
    // Its full 150 steps (77% measured; resnet-rezero reaches 71% in them too, 35% at 100: its scalars start at 0).
    const fixup = run(dir, 'fixup', ['resnet-fixup']);
    assert.equal(typeof fixup.eval.loss, 'number', `fixup eval loss ${fixup.eval.loss}`);
    assert.ok((fixup.eval.accuracy ?? 0) >= 0.5, `fixup accuracy ${fixup.eval.accuracy}`);
  });
});
