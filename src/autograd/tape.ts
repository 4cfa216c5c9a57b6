import { allocBuffer, Tensor, type Buffer, type Shape } from '../tensor/tensor.js';

let gradEnabled = true;

/** Whether ops record the graph. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/**
 * Run `fn` without recording the graph (evaluation, monitoring, weight updates).
 * @example const logits = noGrad(() => model.forward(x));
 */
export function noGrad<T>(fn: () => T): T {
  const previous = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

/**
 * Create an op's output. When any input requires a gradient (and grad mode is on), `backward` is attached;
 * it is called once, after the output's gradient is complete, and must accumulate into the inputs' gradients.
 */
export function makeResult(
  op: string,
  data: Buffer,
  shape: Shape,
  inputs: readonly Tensor[],
  backward: (out: Tensor) => void,
): Tensor {
  const out = new Tensor(data, shape, { op });
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.parents = inputs;
    out.backwardFn = () => backward(out);
  }
  return out;
}

/** The gradient buffer of `t` if it takes part in backward, else null (so backward can skip work). */
export function gradTarget(t: Tensor): Buffer | null {
  return t.requiresGrad ? t.gradBuffer() : null;
}

/** Topological order (inputs before outputs) of the graph that ends in `root`. */
export function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  // Iterative DFS: deep unrolled RNNs would overflow a recursive one.
  const stack: Array<[Tensor, number]> = [[root, 0]];
  visited.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as [Tensor, number];
    const [node, i] = top;
    if (i < node.parents.length) {
      top[1] = i + 1;
      const parent = node.parents[i] as Tensor;
      if (parent.requiresGrad && !visited.has(parent)) {
        visited.add(parent);
        stack.push([parent, 0]);
      }
    } else {
      order.push(node);
      stack.pop();
    }
  }
  return order;
}

/**
 * Reverse-mode differentiation from `root`: seeds d root / d root = 1 (or `seed`), then runs each node's backward
 * in reverse topological order. Gradients accumulate into `.grad`, so call `zeroGrad` between steps.
 * Hooks registered with `onGrad` see each tensor's complete gradient just before it flows on to its inputs.
 * Intermediate (non-leaf) gradients and graph links are released afterwards unless `retainGraph` is set.
 */
export function backward(root: Tensor, options: { seed?: Buffer; retainGraph?: boolean } = {}): void {
  if (!root.requiresGrad) {
    throw new Error(
      `backward() was called on ${root.toString()}, which does not depend on any tensor with requiresGrad; mark the parameters with requiresGrad: true.`,
    );
  }
  const order = topologicalOrder(root);
  const seed = root.gradBuffer();
  if (options.seed) {
    if (options.seed.length !== root.size)
      throw new RangeError(`backward seed has ${options.seed.length} values, the root has ${root.size}.`);
    for (let i = 0; i < seed.length; i++) seed[i] = (seed[i] as number) + (options.seed[i] as number);
  } else if (root.size === 1) {
    seed[0] = (seed[0] as number) + 1;
  } else {
    throw new RangeError(
      `backward() from a non-scalar ${root.toString()} needs a seed gradient of the same size.`,
    );
  }
  for (let k = order.length - 1; k >= 0; k--) {
    const node = order[k] as Tensor;
    if (node.hooks && node.grad) for (const hook of node.hooks) hook(node.grad, node);
    if (node.backwardFn) {
      if (!node.grad) node.grad = allocBuffer(node.size, node.dtype);
      node.backwardFn();
    }
  }
  if (!options.retainGraph) {
    for (const node of order) {
      if (node.backwardFn) {
        node.backwardFn = null;
        node.parents = [];
        node.grad = null;
      }
    }
  }
}
