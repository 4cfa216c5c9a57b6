/**
 * Fan-in and fan-out of a weight in PyTorch's layout, as `torch.nn.init._calculate_fan_in_and_fan_out`:
 * a Dense weight is [out, in]; a recurrent weight is [gates * hidden, in] (nn.LSTM); trailing dimensions
 * (a convolution's kernel) form the receptive field and multiply both fans.
 *
 *   fanIn = shape[1] * receptive,  fanOut = shape[0] * receptive,  receptive = shape[2] * shape[3] * ...
 *
 * Note that for a stacked-gate recurrent weight fanOut counts all gates (4 * hidden for an LSTM), as in PyTorch.
 */
import type { Shape } from '../tensor/tensor.js';
import { checkShape, formatShape, InitError } from './initializer.js';

export interface Fans {
  /** Inputs feeding each output unit: the variance-preserving count for the forward pass. */
  readonly fanIn: number;
  /** Outputs each input feeds: the variance-preserving count for the backward pass. */
  readonly fanOut: number;
}

/**
 * Fan-in and fan-out of a weight of `shape` (rank 2 or more).
 *
 * @example
 * fans([256, 784]);     // { fanIn: 784, fanOut: 256 }   a Dense layer 784 -> 256
 * fans([16, 3, 5, 5]);  // { fanIn: 75, fanOut: 400 }    a 5x5 convolution 3 -> 16 channels
 */
export function fans(shape: Shape): Fans {
  if (shape.length < 2) {
    throw new InitError(
      'invalid_shape',
      `fans needs a 2-D or higher shape [out, in, ...], got ${formatShape(shape)}; fan-in and fan-out are ` +
        `undefined for a vector, so initialise biases with a constant or { normal: std } instead.`,
    );
  }
  checkShape('fans', shape);
  let receptive = 1;
  for (let i = 2; i < shape.length; i++) receptive *= shape[i] as number;
  return { fanIn: (shape[1] as number) * receptive, fanOut: (shape[0] as number) * receptive };
}
