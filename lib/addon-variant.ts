/**
 * Which build of the addon to load: the CPU one inside the package, or a GPU
 * variant (Vulkan, CUDA) shipped as its own package,
 * `@amulet-llm/<platform>-<arch>-<variant>`, that the user installs beside
 * amulet-llm. Internal: not exported from the package entry point.
 *
 * @packageDocumentation
 */
import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from './package-root';

/** A build of the addon: `cpu` has llama.cpp's CPU backend alone, the others a GPU backend too. */
export type AddonVariant = 'cpu' | 'vulkan' | 'cuda';

export const ADDON_VARIANTS: readonly AddonVariant[] = ['cpu', 'vulkan', 'cuda'];

/** The GPU variants, in the order loading tries them when none is asked for. */
export const GPU_VARIANTS: readonly AddonVariant[] = ['cuda', 'vulkan'];

/** The npm package that ships a GPU variant for this platform. */
export function variantPackage(variant: AddonVariant): string {
  return `@amulet-llm/${process.platform}-${process.arch}-${variant}`;
}

function versionOf(manifest: string): string | undefined {
  return (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { version?: string }).version;
}

/**
 * The addon files of a GPU variant present on this machine, best first: the
 * variant package's, when it is of this version of amulet-llm (the addon and
 * the JavaScript speak one contract), then (in a checkout) the build
 * `npm run build:<variant>` leaves in build-<variant>/.
 */
export function variantFiles(variant: AddonVariant): string[] {
  const root = packageRoot();
  const files: string[] = [];
  try {
    const manifest = require.resolve(`${variantPackage(variant)}/package.json`, { paths: [root] });
    if (versionOf(manifest) === versionOf(path.join(root, 'package.json'))) {
      files.push(path.join(path.dirname(manifest), 'amulet.node'));
    }
  } catch {
    // The package is not installed.
  }
  files.push(path.join(root, `build-${variant}`, 'Release', 'amulet.node'));
  return files.filter((file) => fs.existsSync(file));
}

/** The variant a loaded addon is, told by the GPU backend compiled into it. */
export function variantOf(backends: readonly string[]): AddonVariant {
  if (backends.includes('CUDA')) return 'cuda';
  if (backends.includes('Vulkan')) return 'vulkan';
  return 'cpu';
}

/** AMULET_VARIANT, checked: the variant to force, or undefined to let loading pick. */
export function requestedVariant(): AddonVariant | undefined {
  const value = process.env['AMULET_VARIANT'];
  if (value === undefined || value === '') return undefined;
  if (!(ADDON_VARIANTS as readonly string[]).includes(value)) {
    throw new Error(`AMULET_VARIANT must be one of ${ADDON_VARIANTS.join(', ')}, not ${JSON.stringify(value)}`);
  }
  return value as AddonVariant;
}
