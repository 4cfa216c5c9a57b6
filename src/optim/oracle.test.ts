/** Three steps of each optimiser against torch.optim 1.13 (fixtures/optim-*.json), within 1e-5 relative. */
import { describe, it } from 'node:test';
import { assertClose, loadFixture, tensor } from '../testing/fixtures.js';
import { adagrad, adam, adamw, momentum, nesterov, rmsprop, sgd } from './optimizers.js';
import { applyUpdates } from './transform.js';
import type { Optimizer } from './optimizers.js';
import type { ParamInfo } from './types.js';

const cases: Array<[string, () => Optimizer]> = [
  ['sgd', () => sgd({ learningRate: 0.1 })],
  ['sgd-momentum', () => momentum({ learningRate: 0.1, momentum: 0.9 })],
  ['sgd-nesterov', () => nesterov({ learningRate: 0.1, momentum: 0.9 })],
  ['adagrad', () => adagrad({ learningRate: 0.1, eps: 1e-10 })],
  ['rmsprop', () => rmsprop({ learningRate: 0.01, decay: 0.99, eps: 1e-8 })],
  ['adam', () => adam({ learningRate: 0.01 })],
  ['adamw', () => adamw({ learningRate: 0.01, weightDecay: 0.01 })],
  ['adam-l2', () => adam({ learningRate: 0.01, weightDecay: 0.01 })],
];

describe('optimisers agree with torch.optim', () => {
  for (const [name, make] of cases) {
    it(name, () => {
      const fx = loadFixture(`optim-${name}`);
      const p = tensor(fx, 'p');
      const params = [p.data];
      const info: ParamInfo[] = [{ name: 'p', shape: p.shape, layer: 0, role: 'weight', isOutput: false }];
      const opt = make();
      const state = opt.init(params, info);
      for (let step = 1; step <= 3; step++) {
        const updates = [Float64Array.from(tensor(fx, `grad.p.step${step}`).data)];
        opt.update(updates, state, { step, params, info });
        applyUpdates(params, updates);
        assertClose(p.data, tensor(fx, `p.step${step}`).data, { what: `${name} after step ${step}` });
      }
    });
  }
});
