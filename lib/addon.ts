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
import { GPU_VARIANTS, requestedVariant, variantFiles, variantOf, variantPackage, type AddonVariant } from './addon-variant';

let loaded: NativeBinding | undefined;
let loadedFile: string | undefined;

/** What was loaded: the binding and its file. */
interface Loaded {
  binding: NativeBinding;
  file: string;
}

function loadFile(file: string): Loaded {
  return { binding: require(file) as NativeBinding, file };
}

/** node-gyp-build's pick: the local build in build/Release, else the prebuild for this platform. */
function loadCpuBuild(): Loaded {
  const load = require('node-gyp-build') as { (root: string): NativeBinding; resolve(root: string): string };
  return loadFile(load.resolve(packageRoot()));
}

/** The first of a variant's files that loads and is that variant, else an error that says why each failed. */
function loadVariant(variant: AddonVariant): Loaded {
  const candidates = [...variantFiles(variant), path.join(packageRoot(), 'build', 'Release', 'amulet.node')];
  const failures: string[] = [];
  for (const file of new Set(candidates)) {
    try {
      const found = loadFile(file);
      const actual = variantOf(found.binding.systemInfo().backends);
      if (actual === variant) return found;
      failures.push(`${file} is the ${actual} build`);
    } catch (error) {
      failures.push(`${file}: ${String(error)}`);
    }
  }
  throw new Error(`AMULET_VARIANT=${variant}, but no ${variant} build loads (install ${variantPackage(variant)}, ` +
    `or build it: npm run build:${variant} in a checkout, AMULET_${variant.toUpperCase()}=1 npm rebuild amulet-llm ` +
    `in a project)${failures.length > 0 ? `: ${failures.join('; ')}` : ''}`);
}

/** The first installed GPU variant that loads and finds a GPU of this machine, if any. */
function loadUsableGpuVariant(): Loaded | undefined {
  for (const variant of GPU_VARIANTS) {
    for (const file of variantFiles(variant).filter((candidate) => !isCheckoutBuild(candidate))) {
      try {
        const found = loadFile(file);
        if (found.binding.systemInfo().gpuOffload) return found;
      } catch {
        // Its GPU runtime is missing from this machine (libcuda, libvulkan): the next one, or the CPU build.
      }
    }
  }
  return undefined;
}

/** Whether a file is a checkout's own build-<variant>/, which only AMULET_VARIANT selects. */
function isCheckoutBuild(file: string): boolean {
  return file.startsWith(path.join(packageRoot(), 'build-'));
}

function load(): Loaded {
  const override = process.env['AMULET_ADDON'];
  if (override !== undefined && override !== '') return loadFile(path.resolve(override));
  const variant = requestedVariant();
  if (variant === 'cpu') return loadCpuBuild();
  if (variant !== undefined) return loadVariant(variant);
  return loadUsableGpuVariant() ?? loadCpuBuild();
}

/**
 * The addon, loaded on first use: the file `AMULET_ADDON` names (another
 * build of this package, e.g. build-portable/Release/amulet.node to run on
 * the portable code paths); else the variant `AMULET_VARIANT` names
 * (`cpu`, `vulkan` or `cuda`; an error when it is not installed or does not
 * load); else the first installed GPU variant package that finds a GPU here;
 * else the local build in build/Release, else the prebuild for this platform.
 */
export function nativeBinding(): NativeBinding {
  if (loaded) return loaded;
  try {
    const found = load();
    loaded = found.binding;
    loadedFile = found.file;
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

/** The file of the loaded addon (loading it first). */
export function nativeBindingFile(): string {
  nativeBinding();
  return loadedFile!;
}

/**
 * A text as it crosses into native code: llama.cpp takes C strings, so a NUL
 * would cut the text short; it travels as U+FFFD instead.
 */
export function cString(value: string): string {
  return value.replaceAll('\u0000', '\uFFFD');
}
