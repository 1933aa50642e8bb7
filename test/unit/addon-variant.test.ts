/**
 * Which build of the addon loads (lib/addon-variant.ts, lib/addon.ts): the
 * variant names, AMULET_VARIANT's checks and the error when a forced variant
 * is not installed. Loading a real GPU variant is test/model/vulkan.test.ts's.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { requestedVariant, variantOf, variantPackage } from '../../lib/addon-variant';

const cudaBuild = resolve(__dirname, '..', '..', 'build-cuda', 'Release', 'amulet.node');

function withVariant<T>(value: string | undefined, body: () => T): T {
  const saved = process.env['AMULET_VARIANT'];
  if (value === undefined) delete process.env['AMULET_VARIANT'];
  else process.env['AMULET_VARIANT'] = value;
  try {
    return body();
  } finally {
    if (saved === undefined) delete process.env['AMULET_VARIANT'];
    else process.env['AMULET_VARIANT'] = saved;
  }
}

describe('addon variants', () => {
  it('names a variant by the GPU backend compiled in', () => {
    expect(variantOf(['CPU', 'RPC'])).toBe('cpu');
    expect(variantOf(['Vulkan', 'RPC', 'CPU'])).toBe('vulkan');
    expect(variantOf(['CUDA', 'RPC', 'CPU'])).toBe('cuda');
  });

  it('names the package of a variant for this platform', () => {
    expect(variantPackage('vulkan')).toBe(`@amulet-llm/${process.platform}-${process.arch}-vulkan`);
  });

  it('reads AMULET_VARIANT, and rejects a value that names no variant', () => {
    expect(withVariant(undefined, requestedVariant)).toBeUndefined();
    expect(withVariant('', requestedVariant)).toBeUndefined();
    expect(withVariant('vulkan', requestedVariant)).toBe('vulkan');
    expect(() => withVariant('Vulkan', requestedVariant)).toThrow(/AMULET_VARIANT must be one of cpu, vulkan, cuda, not "Vulkan"/);
  });

  // A checkout with a CUDA build in build-cuda/ (tools/gpu) may load it.
  (existsSync(cudaBuild) ? it.skip : it)('fails with ERR_NATIVE_MISSING, naming the package to install, when a forced variant is not there', () => {
    jest.isolateModules(() => {
      const { nativeBinding } = require('../../lib/addon') as typeof import('../../lib/addon');
      const savedAddon = process.env['AMULET_ADDON'];
      delete process.env['AMULET_ADDON'];
      try {
        withVariant('cuda', () => {
          expect(() => nativeBinding()).toThrow(expect.objectContaining({
            code: 'ERR_NATIVE_MISSING',
            message: expect.stringMatching(/AMULET_VARIANT=cuda, but no cuda build loads \(install @amulet-llm\/[a-z0-9]+-[a-z0-9]+-cuda/),
          }));
        });
      } finally {
        if (savedAddon !== undefined) process.env['AMULET_ADDON'] = savedAddon;
      }
    });
  });
});
