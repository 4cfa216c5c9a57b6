/**
 * The clinic through the doctor (docs/DOCTOR.md): every sick run's verdict and cause kind, every control healthy,
 * and the cure rates of the first fix (unverified) and of the best verified fix against issue 10's targets.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLINIC, clinicTable, runClinicCase, type ClinicResult } from './clinic.js';

describe('the clinic', () => {
  const results: ClinicResult[] = [];
  for (const c of CLINIC) {
    it(`${c.name}: ${c.causeKind ?? 'healthy'}`, () => {
      const r = runClinicCase(c);
      results.push(r);
      assert.ok(r.verdictRight, `${c.name}: verdict ${r.verdict}, expected one of ${c.verdicts.join(', ')}`);
      if (c.causeKind === null) {
        assert.equal(r.verdict, 'healthy');
      } else {
        assert.equal(r.causeKind, c.causeKind, `${c.name}: cause kind`);
        assert.ok(r.verifiedCures, `${c.name}: no verified fix beat the control`);
      }
    });
  }
  it('meets the targets: controls all healthy, verified cures >= 95%, fix #1 cures >= 80%', () => {
    const sick = results.filter((r) => r.expected.causeKind !== null);
    const controls = results.filter((r) => r.expected.causeKind === null);
    assert.equal(sick.length, CLINIC.filter((c) => c.causeKind !== null).length);
    assert.ok(sick.length >= 15 && controls.length >= 5);
    assert.ok(controls.every((r) => r.verdict === 'healthy'));
    const verified = sick.filter((r) => r.verifiedCures).length / sick.length;
    const first = sick.filter((r) => r.firstFixCures).length / sick.length;
    assert.ok(verified >= 0.95, `verified cure rate ${verified}\n${clinicTable(results)}`);
    assert.ok(first >= 0.8, `fix #1 cure rate ${first}\n${clinicTable(results)}`);
  });
});
