/** A fix as flags to paste back: `--set` where every leaf is a value, `--patch` where a key must be deleted. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fixFlags } from './format.js';

describe('fixFlags', () => {
  it('writes --set lines for values, quoting what the shell or JSON would misread', () => {
    assert.equal(fixFlags({ optimizer: { learningRate: 0.05 } }), '--set optimizer.learningRate=0.05');
    assert.equal(
      fixFlags({ model: { activation: 'relu', init: 'he-normal' } }),
      '--set model.activation=relu --set model.init=he-normal',
    );
    assert.equal(fixFlags({ model: { hidden: [64, 64] } }), "--set 'model.hidden=[64,64]'");
    assert.equal(fixFlags({ name: 'true' }), `--set 'name="true"'`);
  });

  it('falls back to one --patch when the patch deletes a key', () => {
    assert.equal(
      fixFlags({ clip: { name: 'norm', factor: null } }),
      `--patch '{"clip":{"name":"norm","factor":null}}'`,
    );
  });
});
