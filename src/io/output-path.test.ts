import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkOutputRoot, isInside, OutputPathError, realLocation, runDirInside } from './output-path.js';

const temp = (): string => mkdtempSync(join(tmpdir(), 'gradscope-out-'));

describe('output paths', () => {
  it('isInside: the folder itself and paths below it, never siblings with a shared prefix or parents', () => {
    assert.ok(isInside('/a/b', '/a/b'));
    assert.ok(isInside('/a/b/c/d', '/a/b'));
    assert.ok(!isInside('/a/bc', '/a/b'));
    assert.ok(!isInside('/a', '/a/b'));
    assert.ok(isInside('/a/b/..c', '/a/b'));
  });

  it('runDirInside: one plain name stays inside the folder', () => {
    const root = temp();
    assert.equal(runDirInside(root, 'deep-sigmoid'), join(root, 'deep-sigmoid'));
    for (const bad of ['../victim', '..', '.', 'a/b', 'a\\b', '', '/etc']) {
      assert.throws(() => runDirInside(root, bad), OutputPathError, bad);
    }
  });

  it('runDirInside: refuses a symlink that leads outside the folder, accepts one that stays inside', () => {
    const root = temp();
    const elsewhere = temp();
    symlinkSync(elsewhere, join(root, 'escape'));
    assert.throws(() => runDirInside(root, 'escape'), /is a symlink to .*outside the output folder/);
    mkdirSync(join(root, 'real'));
    symlinkSync(join(root, 'real'), join(root, 'alias'));
    assert.equal(runDirInside(root, 'alias'), join(root, 'alias'));
  });

  it('checkOutputRoot: refuses /proc, /sys and /dev, also through a symlink, and an existing file', () => {
    for (const bad of ['/proc/self/x', '/sys/x', '/dev/null/x', '/dev']) {
      assert.throws(() => checkOutputRoot(bad), /lies under \/(proc|sys|dev)/, bad);
    }
    const root = temp();
    symlinkSync('/proc/self', join(root, 'link'));
    assert.throws(() => checkOutputRoot(join(root, 'link', 'x')), /lies under \/proc/);
    writeFileSync(join(root, 'file'), 'x');
    assert.throws(() => checkOutputRoot(join(root, 'file')), /exists and is not a directory \(a file\)/);
    assert.equal(checkOutputRoot(join(root, 'new', 'deeper')), join(root, 'new', 'deeper'));
  });

  it('realLocation follows symlinks of the existing part of a path', () => {
    const root = temp();
    const target = temp();
    symlinkSync(target, join(root, 'l'));
    assert.equal(realLocation(join(root, 'l', 'not', 'yet')), join(realLocation(target), 'not', 'yet'));
  });
});
