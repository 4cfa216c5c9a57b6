/**
 * What the schema publishes: `gradscope.schema.json` (JSON Schema, draft-07, for editors' completion through
 * `"$schema"`) and `docs/CONFIG.md` (every field with its type, default, range and meaning). Both are generated
 * from `schema.ts` by `scripts/gen-schema.mjs` at build time; a test regenerates them in memory and fails when the
 * checked-in files are stale.
 *
 * @example
 * writeFileSync('gradscope.schema.json', configJsonSchemaText());
 */
import { z } from 'zod';
import { showValue } from './errors.js';
import {
  CLIPS,
  CONFIG_SCHEMA,
  CROSS_RULES,
  DEFAULT_MODEL_KIND,
  MODEL_KINDS,
  MODEL_KINDS_TABLE,
  MONITOR_FIELDS,
  OPTIMIZERS,
  ROOT_FIELDS,
  SCHEDULES,
  TASKS,
  TRAIN_FIELDS,
  DOCUMENTED_DEFAULT,
  acceptedOf,
  unwrap,
  type AnyModelKind,
  type Fields,
} from './schema.js';

/** The config's JSON Schema (draft-07: what editors and most validators read). */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(CONFIG_SCHEMA, { io: 'input', target: 'draft-7' }),
    title: 'gradscope run config',
  };
}

/** `gradscope.schema.json`'s text. */
export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}

function typeOf(schema: z.ZodType): string {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodNumber) return inner.isInt ? 'integer' : 'number';
  if (inner instanceof z.ZodEnum || inner instanceof z.ZodString || inner instanceof z.ZodLiteral)
    return 'string';
  if (inner instanceof z.ZodBoolean) return 'boolean';
  if (inner instanceof z.ZodArray) return `array of ${typeOf(inner.element as z.ZodType)}`;
  if (inner instanceof z.ZodUnion) {
    return [
      ...new Set(
        (inner.options as readonly z.ZodType[]).map((form) =>
          form instanceof z.ZodObject ? 'object' : typeOf(form),
        ),
      ),
    ].join(' or ');
  }
  return 'object';
}

function defaultOf(schema: z.ZodType): string {
  const documented = DOCUMENTED_DEFAULT.get(schema);
  if (documented !== undefined) return documented.text;
  const result = schema.safeParse(undefined);
  if (!result.success) return 'required';
  return result.data === undefined ? '-' : `\`${showValue(result.data)}\``;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function table(fields: Fields, skip: readonly string[] = []): string {
  const rows = Object.entries(fields)
    .filter(([key]) => !skip.includes(key))
    .map(
      ([key, schema]) =>
        `| \`${key}\` | ${typeOf(schema)} | ${cell(defaultOf(schema))} | ${cell(acceptedOf(schema))} | ${cell(schema.description ?? '')} |`,
    );
  if (rows.length === 0) return 'No other keys.\n';
  return (
    ['| key | type | default | accepted | meaning |', '| --- | --- | --- | --- | --- |', ...rows].join('\n') +
    '\n'
  );
}

function variants(
  section: string,
  entries: Readonly<Record<string, { readonly description: string; readonly fields: Fields }>>,
  fallback: string | undefined,
): string {
  const names = Object.keys(entries);
  const parts = [
    `Write a name (\`"${section}": "${names[0] ?? ''}"\`) for its defaults, or an object with \`name\` and the keys below.` +
      (fallback === undefined ? ' `name` is required.' : ` Without \`name\`: \`${fallback}\`.`),
    '',
  ];
  for (const name of names) {
    const entry = entries[name];
    if (entry === undefined) continue;
    parts.push(`### ${section} \`${name}\``, '', entry.description, '', table(entry.fields));
  }
  return parts.join('\n');
}

/** `docs/CONFIG.md`'s text. */
export function configMarkdown(): string {
  const model = MODEL_KINDS.map((kind) => {
    const entry: AnyModelKind = MODEL_KINDS_TABLE[kind];
    const fixed = Object.entries(entry.fixed ?? {})
      .map(([key, value]) => `\`${key}\` is fixed at \`${showValue(value)}\``)
      .join(', ');
    return [
      `### model kind \`${kind}\``,
      '',
      `${entry.description}. Takes ${entry.takes.join('|')} tasks${entry.bptt ? '; `train.bptt` applies' : ''}.${fixed === '' ? '' : ` ${fixed} (accepted only at that value).`}`,
      '',
      table(entry.fields, ['kind']),
    ].join('\n');
  }).join('\n');
  const defaults = Object.entries(DEFAULT_MODEL_KIND)
    .map(([input, kind]) => `\`${kind}\` for ${input} tasks`)
    .join(', ');
  return [
    '# Config reference',
    '',
    '<!-- Generated from src/config/schema.ts by scripts/gen-schema.mjs (npm run build); do not edit by hand. -->',
    '',
    'A run config is one JSON object. Every key is optional: leave it out to get its default (`null` is never a value).',
    'For completion and checking in an editor, point `"$schema"` at the schema shipped in the package:',
    '',
    '```json',
    '{ "$schema": "./node_modules/gradscope/gradscope.schema.json", "task": "spirals", "optimizer": "adam" }',
    '```',
    '',
    '`gradscope presets NAME` prints a built-in config in full; `--set key=value` and `--patch file.json` change one.',
    '',
    '## Top level',
    '',
    table(ROOT_FIELDS),
    '`task`, `model`, `optimizer`, `schedule`, `clip`, `train` and `monitor` are described below.',
    '',
    '## task',
    '',
    variants('task', TASKS, undefined),
    '## model',
    '',
    `\`kind\` picks the network; without it: ${defaults}. A key of another kind is refused and named.`,
    '',
    model,
    '### init and bias forms',
    '',
    '`init` and `recurrentInit`: a name, `{"normal": std}`, `{"uniform": limit}` or `{"gain": g, "base": <name>}` (g multiplies the base\'s standard deviation). `bias`: a number, or `{"normal": std}`.',
    '',
    '## optimizer',
    '',
    variants('optimizer', OPTIMIZERS, 'sgd'),
    '## schedule',
    '',
    variants('schedule', SCHEDULES, 'constant'),
    '## clip',
    '',
    variants('clip', CLIPS, 'none'),
    '## train',
    '',
    table(TRAIN_FIELDS),
    '## monitor',
    '',
    table(MONITOR_FIELDS),
    '## Rules between fields',
    '',
    ...CROSS_RULES.map((rule) => `- ${rule.description}`),
    '',
  ].join('\n');
}
