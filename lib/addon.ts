/**
 * Loads the native addon once, on first use, and hands it the error factory
 * that turns native failures into {@link AmuletError}s. Internal: not exported
 * from the package entry point.
 *
 * @packageDocumentation
 */
import path from 'node:path';
import type { NativeBinding } from './addon-types';
import { AmuletError, type AmuletErrorCode } from './errors';
import { packageRoot } from './package-root';

let loaded: NativeBinding | undefined;

/**
 * The addon, loaded on first use: the file `AMULET_ADDON` names (another
 * build of this package, e.g. build-portable/Release/amulet.node to run on
 * the portable code paths), else the local build in build/Release, else the
 * prebuild for this platform.
 */
export function nativeBinding(): NativeBinding {
  if (loaded) return loaded;
  try {
    const override = process.env['AMULET_ADDON'];
    if (override !== undefined && override !== '') {
      loaded = require(path.resolve(override)) as NativeBinding;
    } else {
      // node-gyp-build finds build/Release/amulet.node, then prebuilds/<platform>-<arch>/.
      const load = require('node-gyp-build') as (root: string) => NativeBinding;
      loaded = load(packageRoot());
    }
  } catch (error) {
    throw new AmuletError(
      'ERR_NATIVE_MISSING',
      `the amulet-llm native addon could not be loaded (${String(error)}); build it from source with ` +
        '`npm rebuild amulet-llm` (its install script approved: `npm install-scripts approve amulet-llm`), ' +
        'or `npm run build` in a checkout',
      { cause: error },
    );
  }
  loaded.setErrorFactory((code, message) => new AmuletError(code as AmuletErrorCode, message));
  return loaded;
}

/**
 * A text as it crosses into native code: llama.cpp takes C strings, so a NUL
 * would cut the text short; it travels as U+FFFD instead.
 */
export function cString(value: string): string {
  return value.replaceAll('\u0000', '\uFFFD');
}
