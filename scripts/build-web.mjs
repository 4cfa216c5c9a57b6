// Bundles the lab page (src/web/lab.ts and its Web Worker src/web/lab-worker.ts, with uPlot and the engine) into
// web/dist/ with esbuild, and copies uPlot's stylesheet beside them. Run by `npm run build` (after tsc) and on its
// own by `npm run build:web`. web/dist/ is generated (gitignored): a clean clone builds it.
//
// Classic scripts (IIFE), not ES modules, so the page also runs opened from disk where a browser allows it.
// platform "browser": an import of a Node module anywhere in the page's graph fails the build.
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'web', 'dist');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const entries = { lab: 'src/web/lab.ts', 'lab-worker': 'src/web/lab-worker.ts' };
const entryPoints = Object.fromEntries(
  Object.entries(entries)
    .filter(([, file]) => existsSync(join(root, file)))
    .map(([name, file]) => [name, join(root, file)]),
);
const result = await build({
  entryPoints,
  outdir: out,
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['chrome114', 'firefox115', 'safari16'],
  sourcemap: true,
  minify: process.env.GRADSCOPE_WEB_MINIFY !== '0',
  metafile: true,
  logLevel: 'warning',
  legalComments: 'linked',
  // src/data/mnist-digits.ts reads import.meta.url only in Node (the page never offers the MNIST tasks).
  logOverride: { 'empty-import-meta': 'silent' },
});
writeFileSync(join(out, 'meta.json'), JSON.stringify(result.metafile));
copyFileSync(join(root, 'node_modules', 'uplot', 'dist', 'uPlot.min.css'), join(out, 'uPlot.min.css'));
const sizes = Object.entries(result.metafile.outputs)
  .filter(([file]) => file.endsWith('.js'))
  .map(([file, info]) => `${file.split('/').pop()} ${(info.bytes / 1024).toFixed(0)} KiB`);
console.log(`build-web: web/dist/ ${sizes.join(', ')}`);
