/**
 * The public API's documentation holds together: TypeDoc, run over the
 * library's entry point (typedoc.json) with validation, finds every exported
 * symbol and member documented, every {@link} resolved and every type the
 * public API refers to exported from it. Nothing is
 * written (`--emit none`); `npx typedoc` writes the HTML to docs/api/, which
 * is not committed.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

it('TypeDoc validates lib/index.ts without a warning', () => {
  // TypeDoc is an ES module, which Jest's CommonJS runtime cannot import: run its CLI.
  const run = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--emit', 'none', '--logLevel', 'Warn'],
    { cwd: root, encoding: 'utf8', timeout: 180_000, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
  const output = `${run.stdout ?? ''}${run.stderr ?? ''}`.trim();
  if (run.error) throw run.error;
  expect(output).toBe('');
  expect(run.status).toBe(0);
}, 200_000);
