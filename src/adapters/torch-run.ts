/**
 * Run directories written by the PyTorch watcher (`python/gradscope_torch.py`): their config.json carries
 * `"source": "pytorch"`, the model in gradscope's config terms (`model`, `optimizer`, `clip`, measured from the
 * PyTorch model) and what the model is in PyTorch's terms (`torch`: layers in forward order, initial weight scales,
 * the optimiser class). This module turns that into the `ResolvedConfig` the doctor reasons with, so its causes
 * speak of the model ("20-layer sigmoid MLP ..."), and its fixes are phrased as PyTorch changes by
 * `torchFixText`.
 *
 * @example
 * const torch = readTorchRunConfig(JSON.parse(readFileSync('runs/mine/config.json', 'utf8')));
 * if (torch) diagnose({ records, config: torch.config });
 */
import { resolveConfig } from '../config/index.js';
import type { ResolvedConfig } from '../config/types.js';
import type { Fix, JsonObject, JsonValue } from '../doctor/findings.js';

export const TORCH_SOURCE = 'pytorch';

/** What the watcher wrote about the PyTorch model (config.json's `torch`), as far as the doctor reads it. */
export interface TorchModelInfo {
  version: string;
  module: string;
  layers: Array<{ name: string; type: string; layer?: number; activation?: string; kind?: string }>;
  /** The activation modules in forward order: their names and classes (`Sigmoid`) and gradscope's names. */
  activations: Array<{ name: string; type: string; activation: string }>;
  optimizer: { class: string } | null;
}

export interface TorchRunConfig {
  /** The model in gradscope's terms, for the doctor; null where the watcher could not map it (then generic). */
  config: ResolvedConfig | null;
  torch: TorchModelInfo;
  /** Why `config` is null or approximate, for the doctor's notes. */
  problems: string[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether a parsed config.json was written by the PyTorch watcher. */
export function isTorchRunConfig(raw: unknown): raw is Record<string, unknown> {
  return isObject(raw) && raw['source'] === TORCH_SOURCE;
}

function torchInfo(raw: Record<string, unknown>): TorchModelInfo {
  const t = isObject(raw['torch']) ? raw['torch'] : {};
  const layers = Array.isArray(t['layers']) ? t['layers'].filter(isObject) : [];
  const optimizer =
    isObject(t['optimizer']) && typeof t['optimizer']['class'] === 'string' ? t['optimizer'] : null;
  return {
    version: typeof t['version'] === 'string' ? t['version'] : 'unknown',
    module: typeof t['module'] === 'string' ? t['module'] : 'nn.Module',
    layers: layers.map((l) => ({
      name: String(l['name'] ?? ''),
      type: String(l['type'] ?? ''),
      ...(typeof l['layer'] === 'number' ? { layer: l['layer'] } : {}),
      ...(typeof l['activation'] === 'string' ? { activation: l['activation'] } : {}),
      ...(typeof l['kind'] === 'string' ? { kind: l['kind'] } : {}),
    })),
    activations: (Array.isArray(t['activations']) ? t['activations'].filter(isObject) : []).map((a) => ({
      name: String(a['name'] ?? ''),
      type: String(a['type'] ?? ''),
      activation: String(a['activation'] ?? ''),
    })),
    optimizer: optimizer ? { class: optimizer['class'] as string } : null,
  };
}

/**
 * The doctor's view of a PyTorch run's config.json, or null when the file is not one (no `"source": "pytorch"`).
 * The gradscope-terms part is validated by `resolveConfig` like any config (with a stand-in task, since a PyTorch
 * run has none of gradscope's tasks); the task is then put back as `{ name: "pytorch", length? }`.
 */
export function readTorchRunConfig(raw: unknown): TorchRunConfig | null {
  if (!isTorchRunConfig(raw)) return null;
  const torch = torchInfo(raw);
  const problems: string[] = [];
  if (!isObject(raw['model'])) {
    problems.push(
      'the PyTorch model is neither a stack of layers nor built on nn.RNN/LSTM/GRU, so causes and fixes are generic',
    );
    return { config: null, torch, problems };
  }
  if (!isObject(raw['optimizer'])) {
    problems.push(
      'the watcher did not find the optimiser (pass optimizer= to gradscope_torch.watch), so causes and fixes are generic',
    );
    return { config: null, torch, problems };
  }
  const model = raw['model'];
  const task = isObject(raw['task']) ? raw['task'] : {};
  const length = typeof task['length'] === 'number' ? task['length'] : undefined;
  const recurrent = model['kind'] === 'rnn' || model['kind'] === 'lstm' || model['kind'] === 'gru';
  const standIn = recurrent
    ? { name: 'adding', ...(length !== undefined ? { length } : {}) }
    : { name: 'spirals' };
  const gradscopeTerms: Record<string, unknown> = { task: standIn };
  for (const key of ['name', 'seed', 'model', 'optimizer', 'schedule', 'clip', 'guard', 'train', 'monitor'])
    if (key in raw) gradscopeTerms[key] = raw[key];
  try {
    const config = resolveConfig(gradscopeTerms, { defaultName: 'pytorch' });
    config.task = { name: TORCH_SOURCE, ...(length !== undefined ? { length } : {}) };
    return { config, torch, problems };
  } catch (error) {
    problems.push(
      `the PyTorch model's description in gradscope terms was not accepted (${error instanceof Error ? error.message : String(error)}); causes and fixes are generic`,
    );
    return { config: null, torch, problems };
  }
}

// ---------------------------------------------------------------------------------------------------------
// Fixes in PyTorch terms

const TORCH_ACTIVATION: { [name: string]: string } = {
  relu: 'nn.ReLU()',
  'leaky-relu': 'nn.LeakyReLU(0.01)',
  prelu: 'nn.PReLU()',
  elu: 'nn.ELU()',
  selu: 'nn.SELU()',
  gelu: 'nn.GELU()',
  tanh: 'nn.Tanh()',
  sigmoid: 'nn.Sigmoid()',
  linear: 'nn.Identity()',
};

const NONLINEARITY: { [name: string]: string } = {
  relu: 'relu',
  'leaky-relu': 'leaky_relu',
  prelu: 'leaky_relu',
  tanh: 'tanh',
  sigmoid: 'sigmoid',
  selu: 'selu',
  linear: 'linear',
};

const TORCH_OPTIMIZER: { [name: string]: string } = {
  sgd: 'torch.optim.SGD',
  momentum: 'torch.optim.SGD',
  nesterov: 'torch.optim.SGD',
  adagrad: 'torch.optim.Adagrad',
  rmsprop: 'torch.optim.RMSprop',
  adam: 'torch.optim.Adam',
  adamw: 'torch.optim.AdamW',
};

function initCall(init: JsonValue, activation: string | null): string {
  const weight = 'layer.weight';
  const nl = activation !== null ? NONLINEARITY[activation] : undefined;
  if (typeof init === 'string') {
    switch (init) {
      case 'he-normal':
        return `nn.init.kaiming_normal_(${weight}, nonlinearity="${nl === 'leaky_relu' ? 'leaky_relu' : 'relu'}")`;
      case 'he-uniform':
        return `nn.init.kaiming_uniform_(${weight}, nonlinearity="${nl === 'leaky_relu' ? 'leaky_relu' : 'relu'}")`;
      case 'xavier-uniform':
        return `nn.init.xavier_uniform_(${weight}${nl && nl !== 'linear' ? `, gain=nn.init.calculate_gain("${nl}")` : ''})`;
      case 'xavier-normal':
        return `nn.init.xavier_normal_(${weight}${nl && nl !== 'linear' ? `, gain=nn.init.calculate_gain("${nl}")` : ''})`;
      case 'lecun-normal':
        return `nn.init.kaiming_normal_(${weight}, nonlinearity="linear")`;
      case 'orthogonal':
        return `nn.init.orthogonal_(${weight})`;
      case 'identity':
        return `nn.init.eye_(${weight})`;
      case 'zeros':
        return `nn.init.zeros_(${weight})`;
    }
  }
  if (isObject(init)) {
    if (typeof init['normal'] === 'number') return `nn.init.normal_(${weight}, std=${init['normal']})`;
    if (typeof init['uniform'] === 'number')
      return `nn.init.uniform_(${weight}, -${init['uniform']}, ${init['uniform']})`;
    if (typeof init['gain'] === 'number')
      return `nn.init.normal_(${weight}, std=${init['gain']} / math.sqrt(layer.weight[0].numel()))`;
  }
  return `re-initialise with ${JSON.stringify(init)}`;
}

/**
 * A fix's config patch as the change to make in a PyTorch script, one clause per patched field, e.g.
 * `replace each nn.Sigmoid() by nn.ReLU(); nn.init.kaiming_normal_(layer.weight, nonlinearity="relu") for each
 * nn.Linear`. Fields without a PyTorch counterpart are named as they are.
 *
 * @example
 * torchFixText({ change: '', why: '', patch: { clip: { name: 'norm', max: 1 } } }, null);
 * // 'torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0) between loss.backward() and optimizer.step()'
 */
export function torchFixText(fix: Fix, torch: TorchModelInfo | null): string {
  const patch = fix.patch;
  const model = isObject(patch['model']) ? (patch['model'] as JsonObject) : {};
  const optimizer = isObject(patch['optimizer']) ? (patch['optimizer'] as JsonObject) : {};
  const clauses: string[] = [];
  const layerTypes = [...new Set((torch?.layers ?? []).map((l) => l.type).filter((t) => !/Norm/.test(t)))];
  const layerWord = layerTypes.length > 0 ? layerTypes.map((t) => `nn.${t}`).join('/') : 'layer';
  const recurrentLayer = (torch?.layers ?? []).find((l) => l.kind !== undefined);
  const recurrent = recurrentLayer !== undefined;
  const activationTypes = [...new Set((torch?.activations ?? []).map((a) => a.type))];
  const currentActivation = recurrentLayer?.activation ?? (torch?.activations ?? [])[0]?.activation ?? null;
  const activation = typeof model['activation'] === 'string' ? model['activation'] : currentActivation;

  if (typeof model['kind'] === 'string') {
    const cls =
      { lstm: 'nn.LSTM', gru: 'nn.GRU', rnn: 'nn.RNN', mlp: 'an MLP' }[model['kind']] ?? model['kind'];
    clauses.push(`build the recurrent layer as ${cls}(...) with the same sizes`);
  }
  if (typeof model['activation'] === 'string' && !recurrent) {
    const to = TORCH_ACTIVATION[model['activation']] ?? model['activation'];
    const from = activationTypes.map((t) => `nn.${t}()`).join('/');
    clauses.push(from ? `replace each ${from} by ${to}` : `use ${to} between the layers`);
  }
  if (typeof model['activation'] === 'string' && recurrent)
    clauses.push(`nn.RNN(..., nonlinearity="${model['activation']}")`);
  if ('init' in model)
    clauses.push(`${initCall(model['init'] as JsonValue, activation)} for each ${layerWord}`);
  if ('recurrentInit' in model) {
    const call = initCall(model['recurrentInit'] as JsonValue, null).replace(
      'layer.weight',
      'rnn.weight_hh_l0',
    );
    clauses.push(`${call} (and every weight_hh_l<k>)`);
  }
  if (typeof model['forgetBias'] === 'number') {
    clauses.push(
      `set the forget gate's bias: rnn.bias_ih_l0.data[H:2*H].fill_(${model['forgetBias']}); rnn.bias_hh_l0.data[H:2*H].zero_() (H = hidden size)`,
    );
  }
  if ('bias' in model) clauses.push(`nn.init.zeros_(layer.bias) for each ${layerWord}`);
  if (model['norm'] === 'batch') clauses.push(`add nn.BatchNorm1d(width) after each hidden ${layerWord}`);
  if (model['norm'] === 'layer') clauses.push(`add nn.LayerNorm(width) after each hidden ${layerWord}`);
  if (model['residual'] === true) clauses.push('make each hidden block residual: x = x + block(x)');
  if (typeof optimizer['name'] === 'string') {
    const cls = TORCH_OPTIMIZER[optimizer['name']] ?? optimizer['name'];
    const lr = typeof optimizer['learningRate'] === 'number' ? `, lr=${optimizer['learningRate']}` : '';
    clauses.push(`optimizer = ${cls}(model.parameters()${lr})`);
  } else if (typeof optimizer['learningRate'] === 'number') {
    clauses.push(
      `learning rate ${optimizer['learningRate']}: ${torch?.optimizer?.class ? `torch.optim.${torch.optimizer.class}` : 'the optimizer'}(model.parameters(), lr=${optimizer['learningRate']})`,
    );
  }
  const clip = isObject(patch['clip']) ? (patch['clip'] as JsonObject) : null;
  if (clip) {
    if (clip['name'] === 'norm')
      clauses.push(
        `torch.nn.utils.clip_grad_norm_(model.parameters(), ${Number(clip['max'] ?? 1).toFixed(1)}) between loss.backward() and optimizer.step()`,
      );
    else if (clip['name'] === 'value')
      clauses.push(
        `torch.nn.utils.clip_grad_value_(model.parameters(), ${clip['max'] ?? 1}) between loss.backward() and optimizer.step()`,
      );
    else if (clip['name'] === 'none') clauses.push('remove the gradient clipping call');
    else clauses.push(`clip ${JSON.stringify(clip)}`);
  }
  const schedule = isObject(patch['schedule']) ? (patch['schedule'] as JsonObject) : null;
  if (schedule && schedule['name'] === 'warmup-cosine') {
    const warmup = typeof schedule['warmupSteps'] === 'number' ? schedule['warmupSteps'] : 100;
    clauses.push(
      `warm the learning rate up: torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / ${warmup})), stepped after each optimizer.step()`,
    );
  }
  const train = isObject(patch['train']) ? (patch['train'] as JsonObject) : null;
  if (train && typeof train['steps'] === 'number') clauses.push(`train for ${train['steps']} steps`);
  if (train && typeof train['bptt'] === 'number')
    clauses.push(`truncate backpropagation through time every ${train['bptt']} steps (h = h.detach())`);
  if (typeof patch['guard'] === 'string')
    clauses.push(
      'skip steps whose loss is not finite: if not torch.isfinite(loss): optimizer.zero_grad(); continue',
    );
  const task = isObject(patch['task']) ? (patch['task'] as JsonObject) : null;
  if (task && task['standardize'] === true)
    clauses.push('standardise the input features: x = (x - x_train.mean(0)) / x_train.std(0)');
  return clauses.length > 0 ? clauses.join('; ') : fix.change;
}
