import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findPreset } from '../config/index.js';
import type { MetricsRecord } from '../io/runlog.js';
import { LabTrainer, type RunSnapshot, type TrainerMessage } from './lab-trainer.js';

/** Drives a trainer until `done` says so, collecting every message. */
function drive(
  trainer: (post: (m: TrainerMessage) => void) => LabTrainer,
  act: (t: LabTrainer) => void,
  done: (messages: TrainerMessage[]) => boolean,
): Promise<TrainerMessage[]> {
  const messages: TrainerMessage[] = [];
  let finished = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`not done: ${JSON.stringify(messages.at(-1)).slice(0, 300)}`)),
      30_000,
    );
    const t = trainer((m) => {
      if (finished) return;
      messages.push(m);
      if (done(messages)) {
        finished = true;
        clearTimeout(timer);
        t.handle({ type: 'pause' });
        resolve(messages);
      }
    });
    act(t);
  });
}

function snapshots(messages: readonly TrainerMessage[]): RunSnapshot[][] {
  return messages.flatMap((m) => (m.type === 'snapshot' ? [m.runs] : []));
}

const config = JSON.stringify({ ...findPreset('deep-sigmoid')?.config, train: { steps: 30, batchSize: 32 } });

describe('the lab trainer', () => {
  it('trains run A, sending each logged record once, then runs the first fix as <base>-b', async () => {
    let trainer: LabTrainer | null = null;
    let fixed = false;
    const messages = await drive(
      (post) => (trainer = new LabTrainer(post, 'page')),
      (t) => t.handle({ type: 'start', text: config, name: 'deep-sigmoid' }),
      (all) => {
        const last = all.at(-1);
        if (last?.type !== 'snapshot') return false;
        const a = last.runs.find((r) => r.label === 'A');
        if (a?.done && !fixed) {
          fixed = true;
          const top = a.findings.find((s) => s.active && s.finding.fixes.length > 0);
          assert.ok(top, 'deep-sigmoid has a fix');
          queueMicrotask(() => trainer?.handle({ type: 'fix', from: 'A', code: top.finding.code, index: 0 }));
        }
        return last.runs.find((r) => r.label === 'B')?.done === true;
      },
    );
    const all = snapshots(messages);
    const aRecords: MetricsRecord[] = all.flatMap((runs) => runs.find((r) => r.label === 'A')?.records ?? []);
    const last = all.at(-1) ?? [];
    const a = last.find((r) => r.label === 'A');
    const b = last.find((r) => r.label === 'B');
    assert.ok(a && b);
    assert.deepEqual(
      aRecords.map((r) => r.step),
      [1, 10, 20, 30],
      'each logged record arrives once, in order',
    );
    assert.equal(a.verdict, 'vanishing');
    assert.equal(b.config.name, 'deep-sigmoid-b');
    assert.equal(b.applied.length, 1);
    assert.notEqual(a.id, b.id);
    assert.equal(b.stepsTaken, 30);
    assert.ok(messages.every((m) => m.type !== 'snapshot' || m.where === 'page'));
  });

  it('answers a broken config with a problem, and an unknown fix with one too', async () => {
    const messages = await drive(
      (post) => new LabTrainer(post),
      (t) => {
        t.handle({ type: 'start', text: '{"model": {"activation": "sigmod"}}', name: 'x' });
        t.handle({ type: 'fix', from: 'A', code: 'vanishing_gradient', index: 0 });
      },
      (all) => all.filter((m) => m.type === 'problem').length === 2,
    );
    const problems = messages.flatMap((m) => (m.type === 'problem' ? [m] : []));
    assert.equal(problems[0]?.during, 'start');
    assert.match(problems[0]?.problem.message ?? '', /did you mean "sigmoid"/);
    assert.equal(problems[1]?.during, 'fix');
    assert.match(problems[1]?.problem.message ?? '', /run A has no fix 1 for vanishing_gradient/);
  });
});
