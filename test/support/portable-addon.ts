/**
 * The model-portable project's setup: every test file of it loads the
 * portable addon (build-portable/Release/amulet.node, AVX2, what the prebuild
 * ships) instead of the one built for this CPU, on SmolLM2 unless
 * AMULET_TEST_MODELS names other fixture models.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const portable = resolve(__dirname, '..', '..', 'build-portable', 'Release', 'amulet.node');
if (!existsSync(portable)) {
  throw new Error(`${portable} is missing: npm install builds it in a checkout (or: npm run build -- --native-only ` +
    '--portable --out build-portable)');
}
process.env['AMULET_ADDON'] = portable;
process.env['AMULET_TEST_MODELS'] ??= 'smollm2-135m-instruct';
