import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../tensor/rng.js';
import { createImagesTask, IMAGES_SIDE, strokeImages } from './images.js';
import { createMnistTask } from './mnist.js';

describe('images task', () => {
  it('declares its image shape and balanced classes', () => {
    const task = createImagesTask({ size: 40 }, 0);
    assert.deepEqual(task.image, { channels: 1, height: 12, width: 12 });
    assert.equal(task.inputSize, 144);
    assert.equal(task.baseline.accuracy, 0.25);
    assert.deepEqual(task.trainBatch(8, new Rng(1)).x.shape, [8, 144]);
  });
  it('draws each class as a stroke in its orientation', () => {
    const { x, labels } = strokeImages(40, new Rng(3));
    const side = IMAGES_SIDE;
    const directions = [
      [0, 1],
      [1, 0],
      [1, 1],
      [1, -1],
    ];
    // The brightest 5-pixel line of each orientation: the stroke's own orientation wins over the noise.
    for (let n = 0; n < 40; n++) {
      const at = (r: number, c: number): number =>
        r >= 0 && r < side && c >= 0 && c < side ? (x[n * side * side + r * side + c] as number) : -Infinity;
      const best = directions.map(([dy, dx]) => {
        let top = -Infinity;
        for (let r = 0; r < side; r++)
          for (let c = 0; c < side; c++) {
            let sum = 0;
            for (let s = 0; s < 5; s++) sum += at(r + s * dy!, c + s * dx!);
            top = Math.max(top, sum);
          }
        return top;
      });
      assert.equal(best.indexOf(Math.max(...best)), labels[n], `image ${n}`);
    }
  });
  it('the same seed gives the same images', () => {
    const a = createImagesTask({ size: 20 }, 4).evalSet().x.data;
    const b = createImagesTask({ size: 20 }, 4).evalSet().x.data;
    assert.deepEqual(a, b);
  });
  it('mnist declares its digits as 1 x 28 x 28 images', () => {
    assert.deepEqual(createMnistTask().image, { channels: 1, height: 28, width: 28 });
  });
});
