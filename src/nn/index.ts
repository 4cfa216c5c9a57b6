export { Module, Sequential, type LayerFacts, type NamedParameter, type ParamRole } from './module.js';
export { Dense, type DenseOptions, type Initializer } from './dense.js';
export { BatchNorm, BatchNorm2d, LayerNorm } from './norm.js';
export {
  Conv2d,
  ConvNet,
  Pool2d,
  GlobalAvgPool2d,
  Flatten,
  asImages,
  type Conv2dLayerOptions,
  type ConvNetOptions,
} from './conv.js';
export { Dropout } from './dropout.js';
export {
  Residual,
  ResidualBlock,
  ResNet,
  type ResNetOptions,
  type ResidualBlockOptions,
  type ResidualOrder,
  type ResidualScale,
} from './residual.js';
export { Mlp, type MlpOptions, type MlpResidual, type LayeredModel } from './mlp.js';
export {
  RecurrentLayer,
  RecurrentNet,
  type RecurrentLayerOptions,
  type RecurrentNetOptions,
} from './recurrent.js';
export {
  Transformer,
  TransformerBlock,
  TransformerHead,
  TransformerInput,
  MultiHeadAttention,
  deepNormScales,
  tokenSimilarity,
  type TransformerOptions,
  type NormPlacement,
  type PositionKind,
} from './transformer.js';
export {
  Seq2Seq,
  Seq2SeqAttentionLayer,
  TokenEmbedding,
  type Seq2SeqOptions,
  type Seq2SeqArchitecture,
  type Seq2SeqAttention,
} from './seq2seq.js';
