/**
 * The error codes of C++ and TypeScript are one list: every code the native
 * code raises (native/engine/engine_error.h and the addon's own) is an
 * AmuletErrorCode of lib/errors.ts, and every AmuletErrorCode is raised
 * somewhere, natively or in lib/.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(__dirname, '..', '..');

/** Every file below `folder` whose name ends with one of `endings`. */
function files(folder: string, endings: readonly string[]): string[] {
  return readdirSync(join(root, folder), { recursive: true, encoding: 'utf8' })
    .filter((name) => endings.some((ending) => name.endsWith(ending)))
    .map((name) => join(root, folder, name));
}

/** The `"ERR_…"` string literals of some files, each with the first file it is in. */
function codesIn(paths: readonly string[]): Map<string, string> {
  const codes = new Map<string, string>();
  for (const path of paths) {
    for (const [, code] of readFileSync(path, 'utf8').matchAll(/["'](ERR_[A-Z_]+)["']/g)) {
      if (!codes.has(code!)) codes.set(code!, relative(root, path));
    }
  }
  return codes;
}

/** The members of the AmuletErrorCode union. */
function typeScriptCodes(): Set<string> {
  const source = readFileSync(join(root, 'lib', 'errors.ts'), 'utf8');
  // From the type to the class after it: the members' doc comments hold semicolons.
  const union = /export type AmuletErrorCode =([\s\S]*?)export class AmuletError/.exec(source);
  if (!union) throw new Error('lib/errors.ts has no AmuletErrorCode union');
  return new Set([...union[1]!.matchAll(/\|\s*'(ERR_[A-Z_]+)'/g)].map((match) => match[1]!));
}

describe('error codes', () => {
  const declared = typeScriptCodes();
  const native = codesIn(files('native', ['.h', '.cpp']).filter((path) => !path.includes(join('native', 'tests'))));

  it('the engine declares its codes in engine_error.h, and there are some', () => {
    const engine = codesIn([join(root, 'native', 'engine', 'engine_error.h')]);
    expect(engine.size).toBeGreaterThan(5);
  });

  it('every code native code raises is an AmuletErrorCode', () => {
    const unknown = [...native].filter(([code]) => !declared.has(code)).map(([code, path]) => `${code} (${path})`);
    expect(unknown).toEqual([]);
  });

  it('every AmuletErrorCode is raised natively or in lib/', () => {
    const library = codesIn(files('lib', ['.ts']).filter((path) => !path.endsWith(join('lib', 'errors.ts'))));
    const unused = [...declared].filter((code) => !native.has(code) && !library.has(code));
    expect(unused).toEqual([]);
  });
});
