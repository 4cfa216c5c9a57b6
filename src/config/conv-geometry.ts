/**
 * The image sizes a conv model's layers see, computed from its config and the task's image shape before anything
 * is built: the cross-field rules (a kernel larger than the image a layer gets) and the memory budget (activations
 * kept for backward = batch x channels x height x width per layer) read them. They mirror `ConvNet` and `ResNet`
 * (`src/nn/conv.ts`, `src/nn/residual.ts`); `conv-geometry.test.ts` checks the two agree on built models.
 *
 * Each conv's output size is PyTorch's (`convOutputSize`): floor((in + 2 padding - kernel) / stride) + 1.
 *
 * @example
 * cnnGeometry({ channels: [8, 16], kernel: 3, stride: 1, padding: 1, pool: 'max', poolEvery: 1 },
 *   { channels: 1, height: 12, width: 12 }).features; // 16 x 3 x 3 = 144
 */
import { convOutputSize } from '../ops/conv.js';
import type { CnnModelConfig, ResNetModelConfig } from './types.js';

/** The shape an image task's features form (channels x height x width). */
export interface ImageSize {
  readonly channels: number;
  readonly height: number;
  readonly width: number;
}

/** One conv layer of a plain stack: the image it reads and the one it writes (before any pooling after it). */
export interface ConvLayerGeometry {
  /** 0-based index among the conv layers, input side first. */
  readonly conv: number;
  readonly input: ImageSize;
  readonly output: ImageSize;
  /** Whether a 2x2 pooling follows it. */
  readonly pooled: boolean;
}

export interface CnnGeometry {
  readonly layers: readonly ConvLayerGeometry[];
  /** The first conv layer whose kernel is larger than the image it gets (null when every kernel fits). */
  readonly tooSmall: ConvLayerGeometry | null;
  /** Features after flattening the last conv layer's (pooled) output: what the dense head reads. */
  readonly features: number;
}

type CnnShape = Pick<CnnModelConfig, 'channels' | 'kernel' | 'stride' | 'padding' | 'pool' | 'poolEvery'>;

/** The images a plain conv stack's layers see, as `ConvNet` builds it (pooling only while the image is >= 2x2). */
export function cnnGeometry(model: CnnShape, image: ImageSize): CnnGeometry {
  const layers: ConvLayerGeometry[] = [];
  let tooSmall: ConvLayerGeometry | null = null;
  let current: ImageSize = image;
  model.channels.forEach((channels, conv) => {
    const fits = model.kernel <= current.height && model.kernel <= current.width;
    const output: ImageSize = fits
      ? {
          channels,
          height: convOutputSize(current.height, model.kernel, model.stride, model.padding),
          width: convOutputSize(current.width, model.kernel, model.stride, model.padding),
        }
      : { channels, height: 1, width: 1 };
    const pooled =
      model.pool !== 'none' && (conv + 1) % model.poolEvery === 0 && output.height >= 2 && output.width >= 2;
    const layer = { conv, input: current, output, pooled };
    layers.push(layer);
    if (!fits && tooSmall === null) tooSmall = layer;
    current = pooled
      ? { channels, height: Math.floor(output.height / 2), width: Math.floor(output.width / 2) }
      : output;
  });
  return { layers, tooSmall, features: current.channels * current.height * current.width };
}

/** One stage of a ResNet: its blocks' channels and the image they see (after the stage's first, striding block). */
export interface StageGeometry {
  readonly stage: number;
  readonly blocks: number;
  readonly output: ImageSize;
}

/**
 * The stem keeps the image's size (3x3, padding 1); the first block of every later stage has stride 2 and doubles
 * the channels (He et al. 2016a, section 4.2), so its image is ceil(in / 2) on each axis.
 */
export function resnetGeometry(
  model: Pick<ResNetModelConfig, 'width' | 'stages' | 'blocks'>,
  image: ImageSize,
): { stem: ImageSize; stages: StageGeometry[] } {
  const stem: ImageSize = { channels: model.width, height: image.height, width: image.width };
  const stages: StageGeometry[] = [];
  let current = stem;
  for (let stage = 0; stage < model.stages; stage++) {
    const stride = stage === 0 ? 1 : 2;
    current = {
      channels: model.width * 2 ** stage,
      height: convOutputSize(current.height, 3, stride, 1),
      width: convOutputSize(current.width, 3, stride, 1),
    };
    stages.push({ stage, blocks: model.blocks, output: current });
  }
  return { stem, stages };
}
