/**
 * The clinic's second ward: conv nets, ResNets and Transformers, the architectures people train. The first ward
 * (clinic.ts) is MLPs and recurrent nets, a second each; these runs take 5-30 s, so the ward is not in the test
 * suite: `node dist/doctor/clinic.js --arch` prints its table (docs/DOCTOR.md). None of these cases is a preset:
 * each changes the width, the depth, the seed or the optimiser of the runs the conv and Transformer rules were
 * written on, so the ward measures the doctor on networks its rules have not seen.
 */
import type { ClinicCase } from './clinic.js';
import type { CauseKind, JsonObject, JsonValue } from './findings.js';

const images = { name: 'images' };
const charLm = { name: 'char-lm', length: 24 };
const convTrain = { steps: 150, batchSize: 32 };
const lmTrain = { steps: 200, batchSize: 16 };
const UNSTABLE = ['exploding', 'saturated', 'vanishing', 'dead-units', 'not-learning', 'non-finite'];

const cnn = (depth: number, extra: JsonObject = {}): JsonObject => ({
  kind: 'cnn',
  depth,
  width: 8,
  pool: 'none',
  ...extra,
});
const resnet = (extra: JsonObject): JsonObject => ({
  kind: 'resnet',
  width: 6,
  stages: 3,
  blocks: 3,
  ...extra,
});
const transformer = (extra: JsonObject): JsonObject => ({
  kind: 'transformer',
  dModel: 16,
  heads: 2,
  ...extra,
});

function sick(
  name: string,
  story: string,
  config: JsonObject,
  verdicts: readonly string[],
  causeKind: CauseKind,
): ClinicCase {
  return { name, story, config, verdicts, causeKind };
}
function healthy(name: string, story: string, config: JsonObject): ClinicCase {
  return { name, story, config, verdicts: ['healthy'], causeKind: null };
}

/** Sick runs, then healthy controls. */
export const ARCH_CLINIC: readonly ClinicCase[] = [
  sick(
    'plain-cnn-20-w12',
    '20 conv layers of 12 channels, no shortcuts, no norm, momentum 0.05: channels die and nothing reaches the input',
    {
      task: images,
      model: resnet({ width: 12, shortcut: false, norm: 'none' }),
      optimizer: { name: 'momentum', learningRate: 0.05 },
      train: convTrain,
      seed: 21,
    },
    ['dead-units', 'vanishing', 'not-learning'],
    'normalisation',
  ),
  sick(
    'resnet-nobn-post',
    'a BN-free post-activation ResNet of 9 blocks, branches unscaled: each x + F(x) adds variance until it overflows',
    {
      task: images,
      model: resnet({ norm: 'none' }),
      optimizer: { name: 'momentum', learningRate: 0.05 },
      train: convTrain,
      seed: 22,
    },
    UNSTABLE,
    'normalisation',
  ),
  sick(
    'cnn-tanh-init-small',
    '8 tanh conv layers initialised with std 0.01: the signal and the gradient shrink layer by layer',
    {
      task: images,
      model: cnn(8, { activation: 'tanh', init: { normal: 0.01 } }),
      optimizer: { name: 'sgd', learningRate: 0.1 },
      train: convTrain,
      seed: 23,
    },
    ['vanishing', 'not-learning'],
    'initialisation',
  ),
  sick(
    'cnn-init-too-large-relu',
    '6 ReLU conv layers initialised with std 1 (fan-in 72), Adam 3e-3: the variance grows ~36x per layer',
    {
      task: images,
      model: cnn(6, { init: { normal: 1 } }),
      optimizer: { name: 'adam', learningRate: 0.003 },
      train: convTrain,
      seed: 24,
    },
    ['exploding', 'non-finite', 'not-learning', 'dead-units'],
    'initialisation',
  ),
  sick(
    'cnn-sgd-lr-too-high',
    '4 ReLU conv layers with He init, SGD at learning rate 2: the steps overshoot',
    {
      task: images,
      model: cnn(4),
      optimizer: { name: 'sgd', learningRate: 2 },
      train: convTrain,
      seed: 25,
    },
    UNSTABLE,
    'learning-rate',
  ),
  sick(
    'cnn-adam-lr-too-small',
    'a healthy 3-layer CNN whose Adam learning rate (1e-6) moves nothing',
    {
      task: images,
      model: cnn(3),
      optimizer: { name: 'adam', learningRate: 1e-6 },
      train: convTrain,
      seed: 26,
    },
    ['not-learning', 'vanishing'],
    'learning-rate',
  ),
  sick(
    'post-ln-8-no-warmup',
    'an 8-layer Post-LN char LM at Adam 0.01 without warm-up (Xiong et al. 2020): the lower blocks are left behind',
    {
      task: charLm,
      model: transformer({ layers: 8, norm: 'post' }),
      optimizer: { name: 'adam', learningRate: 0.01 },
      train: lmTrain,
      seed: 27,
    },
    ['vanishing', 'not-learning', 'exploding'],
    'normalisation',
  ),
  sick(
    'transformer-adam-lr-too-high',
    'a 2-layer Pre-LN char LM at Adam 0.2: the first steps throw the weights far',
    {
      task: charLm,
      model: transformer({ layers: 2, norm: 'pre' }),
      optimizer: { name: 'adam', learningRate: 0.2 },
      train: lmTrain,
      seed: 28,
    },
    UNSTABLE,
    'learning-rate',
  ),
  sick(
    'transformer-entropy-collapse-lr',
    'a 2-layer Pre-LN char LM (dModel 32, 4 heads) at Adam 0.08: the attention logits grow until every head attends to one key (Zhai et al. 2023)',
    {
      task: charLm,
      model: transformer({ layers: 2, dModel: 32, heads: 4, norm: 'pre' }),
      optimizer: { name: 'adam', learningRate: 0.08 },
      train: lmTrain,
      seed: 29,
    },
    UNSTABLE,
    'learning-rate',
  ),
  healthy('cnn-adam', '3 ReLU conv layers with He init, Adam 3e-3', {
    task: images,
    model: cnn(3),
    optimizer: { name: 'adam', learningRate: 0.003 },
    train: convTrain,
    seed: 31,
  }),
  healthy('resnet-bn-w6', 'a post-activation ResNet of 9 blocks with batch norm, momentum 0.05', {
    task: images,
    model: resnet({}),
    optimizer: { name: 'momentum', learningRate: 0.05 },
    train: convTrain,
    seed: 32,
  }),
  healthy('resnet-fixup-w6', 'the BN-free ResNet of 9 pre-activation blocks with Fixup, momentum 0.05', {
    task: images,
    model: resnet({ block: 'pre', norm: 'none', fixup: true }),
    optimizer: { name: 'momentum', learningRate: 0.05 },
    train: convTrain,
    seed: 33,
  }),
  healthy('pre-ln-4', 'a 4-layer Pre-LN char LM at Adam 0.01', {
    task: charLm,
    model: transformer({ layers: 4, norm: 'pre' }),
    optimizer: { name: 'adam', learningRate: 0.01 },
    train: lmTrain,
    seed: 34,
  }),
];

/**
 * The ward made unseen again: every case with its seed, its width (conv channels + 4, a Transformer's dModel 24)
 * and its number of steps (x 4/3) changed, the pathology and its cause kept. Made after the rule changes the ward
 * prompted (docs/DOCTOR.md), so its table is the one a user on an unseen conv net or Transformer can expect:
 * `node dist/doctor/clinic.js --arch-held-out`.
 */
export function archHeldOut(c: ClinicCase, index: number): ClinicCase {
  const config = structuredClone(c.config) as { [key: string]: JsonValue };
  const model = config['model'] as { [key: string]: JsonValue };
  if (typeof model['width'] === 'number') model['width'] = model['width'] + 4;
  if (typeof model['dModel'] === 'number') model['dModel'] = 24;
  const trainSection = config['train'] as { [key: string]: JsonValue };
  if (typeof trainSection['steps'] === 'number')
    trainSection['steps'] = Math.round((trainSection['steps'] * 4) / 3);
  config['seed'] = 3000 + index;
  return { ...c, name: `${c.name}.held-out`, config };
}

export const ARCH_HELD_OUT: readonly ClinicCase[] = ARCH_CLINIC.map((c, i) => archHeldOut(c, i));
