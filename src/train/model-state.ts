/**
 * The state a model holds besides its parameters, for checkpoints: every random generator it owns (dropout's
 * streams) and every numeric array outside a tensor (batch norm's running statistics), with the numbers and flags
 * of its layers. Found by walking the model's own fields in a fixed order, so a layer added later is covered
 * without declaring anything; the same config builds the same structure, which `restoreModelState` checks.
 *
 * @example
 * const state = captureModelState(model);
 * // ... later, on a model built from the same config:
 * restoreModelState(fresh, state);
 */
import { Rng, type RngState } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { GradscopeError } from '../util/errors.js';

type NumericArray = Float32Array | Float64Array | Int32Array | Uint32Array | Uint8Array | Int8Array;

export interface ModelState {
  /** Generators, in walk order. */
  rngs: RngState[];
  /** Numeric arrays outside tensors, in walk order (copies). */
  arrays: NumericArray[];
  /** Numbers and flags of the layers (own fields of class instances), in walk order. */
  scalars: Array<number | boolean>;
}

function isNumericArray(value: unknown): value is NumericArray {
  return ArrayBuffer.isView(value) && !(value instanceof DataView);
}

interface Visitor {
  rng(rng: Rng): void;
  array(array: NumericArray, owner: Record<string, unknown> | unknown[], key: string | number): void;
  scalar(owner: Record<string, unknown>, key: string): void;
}

/**
 * Visit, depth first in field order, what the model owns. Tensors are skipped (parameters are saved by name,
 * other tensors are one step's values); so are functions and plain arrays of numbers (per-step traces).
 */
function walk(root: object, visitor: Visitor): void {
  const seen = new Set<object>();
  const visit = (
    value: unknown,
    owner: Record<string, unknown> | unknown[] | null,
    key: string | number,
  ): void => {
    if (value === null || typeof value !== 'object' || seen.has(value)) return;
    seen.add(value);
    if (value instanceof Tensor) return;
    if (value instanceof Rng) return visitor.rng(value);
    if (isNumericArray(value)) return owner ? visitor.array(value, owner, key) : undefined;
    if (value instanceof Map) {
      for (const entry of value.values()) visit(entry, null, 0);
      return;
    }
    if (value instanceof Set) {
      for (const entry of value) visit(entry, null, 0);
      return;
    }
    if (Array.isArray(value)) {
      value.forEach((entry, i) => {
        if (typeof entry === 'object') visit(entry, value, i);
      });
      return;
    }
    const object = value as Record<string, unknown>;
    const classInstance = Object.getPrototypeOf(object) !== Object.prototype;
    for (const key of Object.keys(object)) {
      const field = object[key];
      if (typeof field === 'number' || typeof field === 'boolean') {
        if (classInstance) visitor.scalar(object, key);
      } else visit(field, object, key);
    }
  };
  visit(root, null, 0);
}

/** The model's state besides its parameters (copies). */
export function captureModelState(model: object): ModelState {
  const state: ModelState = { rngs: [], arrays: [], scalars: [] };
  walk(model, {
    rng: (rng) => state.rngs.push(rng.getState()),
    array: (array) => state.arrays.push(array.slice()),
    scalar: (owner, key) => state.scalars.push(owner[key] as number | boolean),
  });
  return state;
}

/** A state that does not fit the model: a `GradscopeError` of code `size_mismatch` whose `problem` says what differs. */
export function stateMismatch(problem: string): GradscopeError {
  return new GradscopeError({ code: 'size_mismatch', path: 'model state', problem });
}

/**
 * Put a captured state into a model built from the same config. Throws `stateMismatch` (code `size_mismatch`) when the
 * structure differs (another config, another version of a layer) before changing anything.
 */
export function restoreModelState(model: object, state: ModelState): void {
  const rngs: Rng[] = [];
  const arrays: Array<{
    array: NumericArray;
    owner: Record<string, unknown> | unknown[];
    key: string | number;
  }> = [];
  const scalars: Array<{ owner: Record<string, unknown>; key: string }> = [];
  walk(model, {
    rng: (rng) => rngs.push(rng),
    array: (array, owner, key) => arrays.push({ array, owner, key }),
    scalar: (owner, key) => scalars.push({ owner, key }),
  });
  const counts = `${rngs.length} generators, ${arrays.length} arrays and ${scalars.length} fields`;
  const saved = `${state.rngs.length} generators, ${state.arrays.length} arrays and ${state.scalars.length} fields`;
  if (
    rngs.length !== state.rngs.length ||
    arrays.length !== state.arrays.length ||
    scalars.length !== state.scalars.length
  )
    throw stateMismatch(`the model holds ${counts}, the checkpoint ${saved}`);
  arrays.forEach(({ array }, i) => {
    const other = state.arrays[i] as NumericArray;
    if (other.constructor !== array.constructor)
      throw stateMismatch(
        `array ${i} of the model is a ${array.constructor.name}, the checkpoint's a ${other.constructor.name}`,
      );
  });
  scalars.forEach(({ owner, key }, i) => {
    if (typeof owner[key] !== typeof state.scalars[i])
      throw stateMismatch(`field ${key} of the model is a ${typeof owner[key]}, the checkpoint's is not`);
  });
  rngs.forEach((rng, i) => rng.setState(state.rngs[i] as RngState));
  arrays.forEach(({ array, owner, key }, i) => {
    const saved = state.arrays[i] as NumericArray;
    // Same length: in place (other objects may share the array); otherwise a buffer sized as the run grew it.
    if (saved.length === array.length) (array as Float64Array).set(saved);
    else (owner as Record<string | number, unknown>)[key] = saved.slice();
  });
  scalars.forEach(({ owner, key }, i) => (owner[key] = state.scalars[i]));
}
