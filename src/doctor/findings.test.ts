/** Verdict ordering, finding order and merge patches. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  applyMergePatch,
  sortFindings,
  verdictOf,
  type Finding,
  type FindingCode,
  type Severity,
} from './findings.js';

function finding(code: Exclude<FindingCode, 'poor_initialization'>, severity: Severity): Finding {
  return {
    code,
    severity,
    title: code,
    where: {},
    evidence: [],
    cause: '',
    causeKind: 'unknown',
    timeline: [],
    fixes: [],
  };
}

function poorInit(direction: 'collapsing' | 'growing', severity: Severity): Finding {
  return {
    code: 'poor_initialization',
    direction,
    severity,
    title: '',
    where: {},
    evidence: [],
    cause: '',
    causeKind: 'initialisation',
    timeline: [],
    fixes: [],
  };
}

describe('verdictOf', () => {
  it('is healthy with no findings, with only info findings, or with only clipping advice', () => {
    assert.equal(verdictOf([]), 'healthy');
    assert.equal(verdictOf([finding('vanishing_through_time', 'info')]), 'healthy');
    assert.equal(
      verdictOf([finding('clipping_always_on', 'warning'), finding('clipping_inactive', 'info')]),
      'healthy',
    );
  });

  it('takes the most severe finding first', () => {
    assert.equal(
      verdictOf([finding('dead_units', 'critical'), finding('vanishing_gradient', 'warning')]),
      'dead-units',
    );
    assert.equal(
      verdictOf([finding('exploding_gradient', 'warning'), finding('non_finite', 'critical')]),
      'non-finite',
    );
  });

  it('breaks ties by the contract order: vanishing, exploding, non-finite, saturated, dead-units', () => {
    assert.equal(
      verdictOf([finding('non_finite', 'critical'), finding('exploding_gradient', 'critical')]),
      'exploding',
    );
    assert.equal(
      verdictOf([finding('exploding_gradient', 'critical'), finding('vanishing_gradient', 'critical')]),
      'vanishing',
    );
    assert.equal(
      verdictOf([finding('dead_units', 'warning'), finding('saturated_activation', 'warning')]),
      'saturated',
    );
    assert.equal(
      verdictOf([finding('dead_units', 'warning'), finding('non_finite', 'warning')]),
      'non-finite',
    );
  });

  it('maps each code to its verdict, poor initialisation by its direction', () => {
    assert.equal(verdictOf([poorInit('collapsing', 'warning')]), 'vanishing');
    assert.equal(verdictOf([poorInit('growing', 'warning')]), 'exploding');
    assert.equal(verdictOf([finding('tiny_updates', 'warning')]), 'vanishing');
    assert.equal(verdictOf([finding('huge_updates', 'warning')]), 'exploding');
    assert.equal(verdictOf([finding('loss_divergence', 'warning')]), 'exploding');
    assert.equal(verdictOf([finding('exploding_through_time', 'warning')]), 'exploding');
    assert.equal(verdictOf([finding('vanishing_through_time', 'warning')]), 'vanishing');
  });
});

describe('sortFindings', () => {
  it('orders by severity, then root causes before symptoms, without changing its input', () => {
    const input = [
      finding('dead_units', 'warning'),
      finding('non_finite', 'critical'),
      finding('clipping_inactive', 'info'),
      finding('exploding_gradient', 'critical'),
      finding('saturated_activation', 'warning'),
    ];
    const sorted = sortFindings(input);
    assert.deepEqual(
      sorted.map((f) => f.code),
      ['exploding_gradient', 'non_finite', 'saturated_activation', 'dead_units', 'clipping_inactive'],
    );
    assert.equal(input[0]?.code, 'dead_units');
  });
});

describe('applyMergePatch (RFC 7396)', () => {
  it('merges objects, replaces values, deletes on null, and leaves its arguments alone', () => {
    const config = {
      model: { kind: 'mlp', activation: 'sigmoid', init: { normal: 1 } },
      clip: { name: 'agc', factor: 0.01 },
    };
    const patched = applyMergePatch(config, {
      model: { activation: 'relu', init: 'he-normal' },
      clip: { name: 'norm', max: 1, factor: null },
    });
    assert.deepEqual(patched, {
      model: { kind: 'mlp', activation: 'relu', init: 'he-normal' },
      clip: { name: 'norm', max: 1 },
    });
    assert.equal(config.model.activation, 'sigmoid');
    assert.deepEqual(applyMergePatch({ a: 1, b: 2 }, { b: null }), { a: 1 });
  });
});
