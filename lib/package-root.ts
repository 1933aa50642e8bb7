/**
 * Where amulet-llm's own files are: the folder of its package.json, whether
 * the code runs compiled (dist/lib/) or from source (lib/, in the tests).
 * Internal: not exported from the package entry point.
 *
 * @packageDocumentation
 */
import fs from 'node:fs';
import path from 'node:path';

/** The folder of amulet-llm's package.json. Throws when there is none above this file. */
export function packageRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: string }).name === 'amulet-llm') {
      return dir;
    }
    if (path.dirname(dir) === dir) throw new Error(`no amulet-llm package.json above ${__dirname}`);
  }
}
