/**
 * The architecture ward (clinic-arch.ts) is measured by `node dist/doctor/clinic.js --arch`, too slow for the suite;
 * here every case is checked to be a valid, distinct run of the architecture it claims, so the ward cannot rot.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConfig } from '../config/resolve.js';
import { PRESETS } from '../config/presets.js';
import { ARCH_CLINIC } from './clinic-arch.js';

describe('the architecture ward', () => {
  it('has sick runs and controls of conv nets, ResNets and Transformers, each config valid', () => {
    const kinds = new Set<string>();
    for (const c of ARCH_CLINIC) {
      const config = resolveConfig(c.config, { defaultName: c.name });
      kinds.add(config.model.kind);
      assert.ok(c.verdicts.length > 0, c.name);
    }
    assert.deepEqual([...kinds].sort(), ['cnn', 'resnet', 'transformer']);
    assert.ok(ARCH_CLINIC.filter((c) => c.causeKind !== null).length >= 8);
    assert.ok(ARCH_CLINIC.filter((c) => c.causeKind === null).length >= 4);
    assert.equal(new Set(ARCH_CLINIC.map((c) => c.name)).size, ARCH_CLINIC.length);
  });
  it('is not made of presets: no case is a preset with another name', () => {
    const presets = new Set(
      PRESETS.map((p) => JSON.stringify(resolveConfig(p.config, { defaultName: 'x' }))),
    );
    for (const c of ARCH_CLINIC)
      assert.ok(!presets.has(JSON.stringify(resolveConfig(c.config, { defaultName: 'x' }))), c.name);
  });
});

describe('the architecture ward held out', () => {
  it('changes every case: seed, width and steps, each still a valid config', async () => {
    const { ARCH_HELD_OUT } = await import('./clinic-arch.js');
    ARCH_HELD_OUT.forEach((c, i) => {
      const original = resolveConfig(ARCH_CLINIC[i]!.config, { defaultName: 'x' });
      const changed = resolveConfig(c.config, { defaultName: 'x' });
      assert.notEqual(changed.seed, original.seed, c.name);
      assert.ok(changed.train.steps > original.train.steps, c.name);
      assert.equal(changed.model.kind, original.model.kind);
    });
  });
});
