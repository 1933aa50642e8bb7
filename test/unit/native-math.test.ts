/**
 * The C++ unit tests (native/tests/: the realignment math, its parameters,
 * the UTF-8 stream and the KV sequence assignment), which need no model. The
 * build in build/ is required; the portable (AVX2) build in build-portable/
 * is tested too when it has been built, since its loops compile differently.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
const binary = process.platform === 'win32' ? 'amulet_native_tests.exe' : 'amulet_native_tests';

function runTests(buildDir: string): void {
  const file = join(root, buildDir, binary);
  const run = spawnSync(file, [], { encoding: 'utf8', timeout: 120_000 });
  const output = `${run.stdout ?? ''}${run.stderr ?? ''}`;
  if (run.error) throw new Error(`${file} did not run: ${run.error.message}\n${output}`);
  if (run.status !== 0) throw new Error(`${file} exited with ${run.status ?? run.signal}:\n${output}`);
}

describe('C++ unit tests', () => {
  it('pass in build/', () => {
    if (!existsSync(join(root, 'build', binary))) {
      throw new Error(`build/${binary} is missing: \`npm run build\` builds it in a checkout`);
    }
    runTests('build');
  });

  (existsSync(join(root, 'build-portable', binary)) ? it : it.skip)('pass in build-portable/', () => {
    runTests('build-portable');
  });
});
