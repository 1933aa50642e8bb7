/**
 * The version `amulet --version` prints, read from amulet-llm's package.json.
 *
 * @packageDocumentation
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

interface PackageManifest {
  name?: string;
  version?: string;
}

/**
 * The version in amulet-llm's package.json. The folders above this file are
 * searched because it runs both compiled (dist/cli/) and from source (cli/).
 *
 * @throws Error when no amulet-llm package.json is found above this file.
 */
export function packageVersion(): string {
  for (let folder = __dirname; ; folder = dirname(folder)) {
    const manifestPath = join(folder, 'package.json');
    if (existsSync(manifestPath)) {
      const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as PackageManifest;
      if (manifest.name === 'amulet-llm' && manifest.version !== undefined) return manifest.version;
    }
    if (dirname(folder) === folder) throw new Error(`no amulet-llm package.json above ${__dirname}`);
  }
}
