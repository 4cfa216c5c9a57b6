/** Turns a resolved config into a model. Models declare their own layers and facts; nothing downstream switches on kind. */
import type { MlpModelConfig, ModelConfig } from '../config/types.js';
import type { Task } from '../data/task.js';
import { resolveBias, resolveInit } from '../init/index.js';
import { Mlp, type LayeredModel } from '../nn/index.js';
import type { Rng } from '../tensor/rng.js';
import type { DType } from '../tensor/tensor.js';

export function buildModel(model: ModelConfig, task: Task, rng: Rng, dtype: DType = 'float32'): LayeredModel {
  if (model.kind !== 'mlp') {
    throw new Error(`model.kind "${model.kind}" is not available in this build yet; use "mlp".`);
  }
  return buildMlp(model, task, rng, dtype);
}

function buildMlp(model: MlpModelConfig, task: Task, rng: Rng, dtype: DType): Mlp {
  if (task.sequence) {
    throw new Error(
      `task "${task.name}" is a sequence task; an mlp cannot read it. Use model.kind "rnn", "lstm" or "gru".`,
    );
  }
  return new Mlp({
    inputSize: task.inputSize,
    hidden: model.hidden,
    outputSize: task.outputSize,
    activation: model.activation,
    norm: model.norm,
    residual: model.residual,
    dropout: model.dropout,
    weightInit: (activation) => resolveInit(model.init, { activation }),
    biasInit: resolveBias(model.bias),
    rng,
    dtype,
  });
}
