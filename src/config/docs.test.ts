import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { configJsonSchema, configJsonSchemaText, configMarkdown } from './docs.js';
import { ConfigError } from './errors.js';
import { PRESETS } from './presets.js';
import { resolveConfig } from './resolve.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** ajv 6 (draft-07), the validator eslint brings; the schema is published as draft-07 for editors. */
interface Ajv {
  compile(schema: object): ((data: unknown) => boolean) & { errors?: unknown };
}
const AjvClass = createRequire(import.meta.url)('ajv') as new (options: object) => Ajv;

describe('published schema and docs', () => {
  it('gradscope.schema.json is what the schema generates (run npm run build)', () => {
    assert.equal(readFileSync(join(root, 'gradscope.schema.json'), 'utf8'), configJsonSchemaText());
  });

  it('docs/CONFIG.md is what the schema generates (run npm run build)', () => {
    assert.equal(readFileSync(join(root, 'docs', 'CONFIG.md'), 'utf8'), configMarkdown());
  });

  it('CONFIG.md names every field of every variant', () => {
    const text = configMarkdown();
    for (const key of [
      'learningRate',
      'momentum',
      'nesterov',
      'beta2',
      'warmupSteps',
      'percentile',
      'forgetBias',
    ]) {
      assert.ok(text.includes(`| \`${key}\` |`), key);
    }
    assert.ok(text.includes('| `max` | number | required |'), 'clip max is required');
  });

  const validate = new AjvClass({ allErrors: true }).compile(configJsonSchema());

  it('the JSON Schema accepts every preset, its resolved form, and the empty config', () => {
    assert.equal(validate({}), true);
    for (const preset of PRESETS) {
      assert.equal(validate(preset.config), true, `${preset.name}: ${JSON.stringify(validate.errors)}`);
      const resolved = resolveConfig(preset.config, { defaultName: preset.name });
      assert.equal(validate(JSON.parse(JSON.stringify(resolved))), true, `${preset.name} resolved`);
    }
    assert.equal(
      validate({ $schema: './gradscope.schema.json', optimizer: 'adam', clip: { name: 'norm', max: 1 } }),
      true,
    );
  });

  it('the JSON Schema refuses what resolveConfig refuses (field by field)', () => {
    const refused: unknown[] = [
      { seeed: 1 },
      { seed: -1 },
      { seed: 1.5 },
      { name: 'a/b' },
      { guard: 'banana' },
      { optimizer: { name: 'adam', momentum: 0.9 } },
      { optimizer: { name: 'sgd', momentum: 1.5 } },
      { optimizer: { learningRate: 0 } },
      { clip: { name: 'norm' } },
      { clip: { name: 'agc', eps: 0 } },
      { clip: { name: 'autoclip', percentile: 101 } },
      { model: { activation: 'sigmod' } },
      { model: { hidden: [] } },
      { model: { dropout: 1 } },
      { model: { init: { normal: 0 } } },
      { model: { init: { gain: 2 } } },
      { train: { steps: 0 } },
      { train: { batchSize: '64' } },
      { monitor: { every: 0 } },
      { task: { name: 'teacher', classes: 1 } },
      { task: { length: 5 } },
      { schedule: { name: 'cosine', gamma: 0.5 } },
    ];
    for (const raw of refused) {
      assert.throws(() => resolveConfig(raw, { defaultName: 'x' }), ConfigError, JSON.stringify(raw));
      assert.equal(validate(raw), false, JSON.stringify(raw));
    }
  });
});

describe('package exports', () => {
  const require = createRequire(import.meta.url);
  it('publishes the schema as gradscope/schema.json and the config module as gradscope/config', async () => {
    assert.equal(require.resolve('gradscope/schema.json'), join(root, 'gradscope.schema.json'));
    const config = (await import('gradscope/config')) as { resolveConfig: unknown; CONFIG_SCHEMA: unknown };
    assert.equal(typeof config.resolveConfig, 'function');
    assert.ok(config.CONFIG_SCHEMA !== undefined);
  });

  it('ships the schema and docs/CONFIG.md, and no tests', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { files: string[] };
    for (const file of ['gradscope.schema.json', 'docs/CONFIG.md', '!dist/**/*.test.*']) {
      assert.ok(manifest.files.includes(file), file);
    }
  });
});
