/**
 * The residual blocks of a model, found once by walking it, and their branch/shortcut records on logged steps.
 * Read-only: the monitor switches a block's measuring flag on for a logged step's forward pass and off after it,
 * as it attaches and detaches output observers; no value the model computes changes.
 */
import type { ResidualRecord } from '../io/runlog.js';
import type { LayeredModel } from '../nn/mlp.js';
import type { Module } from '../nn/module.js';
import { ResidualBlock } from '../nn/residual.js';
import { branchShortcutRatio } from './stats.js';

/** A residual block and where it sits: its layer index and dotted name. */
export interface WatchedBlock {
  readonly layer: number;
  readonly name: string;
  readonly block: ResidualBlock;
}

/**
 * Every residual block under each of the model's layers (a layer may be one, or hold some), input side first.
 *
 * @example
 * residualBlocks(resnet).map((b) => b.name); // ['layers.1', 'layers.2', ...]
 */
export function residualBlocks(model: LayeredModel): WatchedBlock[] {
  const found: WatchedBlock[] = [];
  const visit = (module: Module, layer: number, name: string): void => {
    if (module instanceof ResidualBlock) found.push({ layer, name, block: module });
    for (const [child, sub] of module.children()) visit(sub, layer, child === '' ? name : `${name}.${child}`);
  };
  model.blocks.forEach((block, i) => visit(block, i, `layers.${i}`));
  return found;
}

/** Switch the blocks' mean-square measurement on (before a logged step's forward pass) or off (after it). */
export function measureBranches(blocks: readonly WatchedBlock[], on: boolean): void {
  for (const { block } of blocks) {
    block.measureVariances = on;
    if (!on) continue;
    block.lastVariances = null;
  }
}

/** What the blocks measured in the last forward pass (blocks that did not run are left out). */
export function residualRecords(blocks: readonly WatchedBlock[]): ResidualRecord[] {
  return blocks.flatMap(({ layer, name, block }) => {
    const v = block.lastVariances;
    if (!v) return [];
    return [{ name, layer, shortcut: v.shortcut, branch: v.branch, ratio: branchShortcutRatio(v) }];
  });
}
