/** The Transformer findings: rank collapse and attention entropy collapse, from the records' `attention`. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findPreset } from '../config/presets.js';
import { resolveConfig } from '../config/resolve.js';
import type { AttentionRecord, MetricsRecord } from '../io/runlog.js';
import { diagnose } from './diagnosis.js';
import { rankCollapsed, THRESHOLDS } from './rules.js';
import { craftRun } from './test-records.js';

/** A 3-block, 2-head Transformer run whose attention measures come from `attention(step)`. */
function run(attention: (step: number) => AttentionRecord, loss?: (step: number) => number): MetricsRecord[] {
  return craftRun(20, 10, (step) => ({
    layers: [{ grad: 0.2 }, { grad: 0.3 }, { grad: 0.3 }, { grad: 0.3 }, { grad: 0.4 }],
    ...(loss ? { loss: loss(step) } : {}),
  })).map((r) => ({ ...r, attention: attention(r.step) }));
}

const healthy = (): AttentionRecord => ({
  entropy: [
    [2.1, 1.4],
    [1.2, 0.9],
    [0.8, 1.1],
  ],
  tokenSimilarity: [0.2, 0.3, 0.4],
});

describe('rank collapse (Noci et al. 2022)', () => {
  it('is flagged when the tokens of a block share one direction over the window', () => {
    const records = run(
      (step) => ({
        entropy: healthy().entropy,
        tokenSimilarity: step === 1 ? [0.5, 0.8, 0.9] : [0.98, 0.999, 0.9999],
      }),
      () => 3.2,
    );
    const { findings, verdict } = diagnose({ records, config: null, summary: { baselineLoss: 3.16 } });
    const finding = findings.find((f) => f.code === 'rank_collapse');
    assert.ok(finding, findings.map((f) => f.code).join(', '));
    assert.equal(finding.severity, 'critical');
    assert.deepEqual(finding.where.layers, [1, 2, 3]);
    assert.match(finding.evidence[0]!, /median 1 over .*collapse above 0\.95, Noci et al\. 2022/);
    assert.equal(verdict, 'vanishing');
    assert.equal(findings[0]!.code, 'rank_collapse', 'it leads: it explains the flat loss');
    assert.ok(!findings.some((f) => f.code === 'not_learning'), 'the flat loss is explained, not repeated');
    assert.deepEqual(
      finding.fixes.map((f) => f.change.split(' ')[0]),
      ['schedule.name', 'optimizer.learningRate'],
    );
  });

  it('the same similarity in a run whose loss fell below half the baseline is information only', () => {
    const records = run(
      (step) => ({
        entropy: healthy().entropy,
        tokenSimilarity: step === 1 ? [0.5, 0.8, 0.9] : [0.98, 0.999, 0.9999],
      }),
      (step) => (step === 1 ? 0.17 : 0.015),
    );
    const { findings, verdict } = diagnose({ records, config: null, summary: { baselineLoss: 0.167 } });
    const finding = findings.find((f) => f.code === 'rank_collapse');
    assert.equal(finding?.severity, 'info');
    assert.match(finding?.evidence.at(-1) ?? '', /below half of the task's baseline 0\.17: the run learns/);
    assert.equal(verdict, 'healthy');
  });

  it('healthy similarities, or no attention records at all, raise nothing', () => {
    assert.equal(rankCollapsed(run(healthy)), null);
    assert.equal(rankCollapsed(craftRun(5, 10, () => ({ layers: [{ grad: 0.1 }, { grad: 0.2 }] }))), null);
    const { findings } = diagnose({ records: run(healthy), config: null });
    assert.ok(!findings.some((f) => f.code === 'rank_collapse' || f.code === 'attention_entropy_collapse'));
  });

  it('sits just above the healthy presets: similarity 0.94 is not collapse', () => {
    assert.equal(rankCollapsed(run(() => ({ ...healthy(), tokenSimilarity: [0.5, 0.94, 0.9] }))), null);
    assert.ok(THRESHOLDS.rankCollapse < THRESHOLDS.rankCollapseCritical);
  });
});

describe('attention entropy collapse (Zhai et al. 2023)', () => {
  it('names the heads whose entropy fell to near 0 from where it started', () => {
    const records = run((step) => {
      const e = healthy();
      if (step > 1) {
        e.entropy[1]![0] = 0.02;
        e.entropy[2]![1] = 0.05;
      }
      return e;
    });
    const { findings, verdict } = diagnose({ records, config: null });
    const finding = findings.find((f) => f.code === 'attention_entropy_collapse');
    assert.ok(finding);
    assert.match(finding.title, /2 of 6 heads attend to a single key/);
    assert.deepEqual(finding.where.layers, [2, 3]);
    assert.match(
      finding.evidence[0]!,
      /block 2 head 0: mean attention entropy 0\.02 nats .* from 1\.2 at step 1/,
    );
    assert.equal(finding.severity, 'warning');
    assert.equal(verdict, 'saturated');
  });

  it('a head that was sharp from the start (a fixed one-hot pattern) is not a collapse', () => {
    const records = run(() => {
      const e = healthy();
      e.entropy[0]![1] = 0.05;
      return e;
    });
    assert.ok(
      !diagnose({ records, config: null }).findings.some((f) => f.code === 'attention_entropy_collapse'),
    );
  });

  describe('its fixes, in the order measured on five collapsed char LMs (docs/DOCTOR.md)', () => {
    const collapsing = (): MetricsRecord[] =>
      run((step) => {
        const e = healthy();
        if (step > 1) e.entropy = e.entropy.map((heads) => heads.map(() => 0.03));
        return e;
      });
    const fixesFor = (patch: object): string[] => {
      const preset = findPreset('transformer-entropy-collapse');
      assert.ok(preset);
      const config = resolveConfig({ ...preset.config, ...patch }, { defaultName: 'collapse' });
      const finding = diagnose({ records: collapsing(), config }).findings.find(
        (f) => f.code === 'attention_entropy_collapse',
      );
      assert.ok(finding);
      return finding.fixes.map((f) => f.change.split(' ')[0] as string);
    };

    it('Pre-LN: warm-up, a lower learning rate, then QK normalisation', () => {
      assert.deepEqual(fixesFor({}), ['schedule.name', 'optimizer.learningRate', 'model.qkNorm']);
    });

    it('Post-LN without warm-up: QK normalisation last, after Pre-LN and DeepNorm', () => {
      const post = fixesFor({
        model: { kind: 'transformer', layers: 2, dModel: 32, heads: 4, norm: 'post' },
      });
      assert.deepEqual(post, [
        'schedule.name',
        'model.norm',
        'model.deepNorm',
        'optimizer.learningRate',
        'model.qkNorm',
      ]);
    });

    it('is not offered again to a model that has it', () => {
      const fixes = fixesFor({
        model: { kind: 'transformer', layers: 2, dModel: 32, heads: 4, norm: 'pre', qkNorm: true },
      });
      assert.ok(!fixes.includes('model.qkNorm'), fixes.join(', '));
    });
  });
});
