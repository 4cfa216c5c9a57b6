// Writes gradscope.schema.json and docs/CONFIG.md from the config schema (src/config/schema.ts, built to dist/).
// Run by `npm run build` after tsc; src/config/docs.test.ts fails when the checked-in files are stale.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configJsonSchemaText, configMarkdown } from '../dist/config/docs.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
writeFileSync(join(root, 'gradscope.schema.json'), configJsonSchemaText());
writeFileSync(join(root, 'docs', 'CONFIG.md'), configMarkdown());
