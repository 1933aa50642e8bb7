/**
 * vendor/patches/0001-ggml-cpu-amx-tile-config-memory-operand.patch: GCC 12's
 * _tile_loadconfig hands ldtilecfg only 8 bytes of the 64-byte AMX tile config
 * as a memory input, so the stores of the tile shapes are eliminated and any
 * multi-token batch on a quantised model faults on AMX CPUs (llama.cpp issue
 * #20824). This checks that the materialised tree carries the patch, that the
 * patched tile setup keeps its stores when compiled for AMX (while the
 * unpatched one, on an affected compiler, does not), and decodes
 * multi-sequence batches on a quantised model: the workload that crashed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { nativeBinding } from '../../lib/addon';
import { paperPreference, testModels } from '../support/models';
import { useTestModel } from '../support/sessions';

const root = resolve(__dirname, '..', '..');
const patchesDir = join(root, 'vendor', 'patches');
const PATCH = '0001-ggml-cpu-amx-tile-config-memory-operand.patch';
const MMQ = join(root, 'vendor', 'llama.cpp', 'ggml', 'src', 'ggml-cpu', 'amx', 'mmq.cpp');
const cpuHasAmx = (() => {
  try {
    return /\bamx_tile\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
})();

/** The patch digest vendor/materialize.mjs writes into its stamp. */
function patchDigest(): string {
  const digest = createHash('sha256');
  for (const name of readdirSync(patchesDir).filter((file) => file.endsWith('.patch')).sort()) {
    digest.update(name).update(readFileSync(join(patchesDir, name)));
  }
  return digest.digest('hex').slice(0, 16);
}

/** The tile config struct and ggml_tile_config_init, cut out of mmq.cpp, in a TU that emits them. */
function tileSetupUnit(mmqSource: string): string {
  const start = mmqSource.indexOf('struct tile_config_t');
  const init = mmqSource.indexOf('inline void ggml_tile_config_init(void)');
  const end = mmqSource.indexOf('\n}\n', init);
  if (start < 0 || init < 0 || end < 0) throw new Error('ggml_tile_config_init not found in mmq.cpp');
  return ['#include <immintrin.h>', '#include <cstdint>', mmqSource.slice(start, end + 3),
    'void amulet_probe() { ggml_tile_config_init(); }', ''].join('\n');
}

const compiler = process.env.CXX ?? 'g++';
const compilerTargetsAmx = spawnSync(compiler, ['-mamx-tile', '-mamx-int8', '-x', 'c++', '-fsyntax-only', '-'],
  { input: '#include <immintrin.h>\nint main() { return 0; }\n' }).status === 0;

/** x86-64 assembly (AT&T syntax) of a translation unit, built for AMX. */
function assemble(source: string, dir: string, name: string): string {
  const file = join(dir, `${name}.cpp`);
  writeFileSync(file, source);
  return execFileSync(compiler, ['-std=c++17', '-O3', '-mamx-tile', '-mamx-int8', '-S', '-o', '-', file], { encoding: 'utf8' });
}

/**
 * Offsets, relative to the config that ldtilecfg loads, of the stores made
 * since the config was zeroed. The tile shapes (colsb at 16..47, rows at
 * 48..63) must be among them, or the loaded config has no tiles.
 */
function storesBeforeLoad(asm: string): number[] {
  const lines = asm.split('\n').map((line) => line.trim());
  const load = lines.findIndex((line) => line.startsWith('ldtilecfg'));
  if (load < 0) throw new Error('no ldtilecfg in the assembly');
  const operand = /ldtilecfg\s+(-?\d*)\((%\w+)\)/.exec(lines[load]);
  if (!operand) throw new Error(`unexpected ldtilecfg operand: ${lines[load]}`);
  const base = Number(operand[1] || '0');
  const register = operand[2];
  const offsets: number[] = [];
  for (let i = load - 1; i >= 0 && !lines[i].endsWith(':'); --i) {
    const store = /^(?:v?mov\w*)\s+[^,]+,\s*(-?\d*)\((%\w+)\)$/.exec(lines[i]);
    if (store && store[2] === register) offsets.push(Number(store[1] || '0') - base);
  }
  return offsets;
}

describe('the AMX tile-config patch', () => {
  it('is in vendor/patches and the materialised llama.cpp carries it', () => {
    expect(readdirSync(patchesDir)).toContain(PATCH);
    const stamp = readFileSync(join(root, 'vendor', 'llama.cpp', '.amulet-pin'), 'utf8');
    expect(stamp).toContain(`patches:${patchDigest()}`);
    const mmq = readFileSync(MMQ, 'utf8');
    expect(mmq).toContain('"m"(*reinterpret_cast<const char (*)[64]>(&tc))');
  });

  (compilerTargetsAmx ? it : it.skip)('keeps every store of the tile config when compiled for AMX', () => {
    const dir = mkdtempSync(join(tmpdir(), 'amulet-amx-'));
    try {
      const patched = readFileSync(MMQ, 'utf8');
      const fixedStores = storesBeforeLoad(assemble(tileSetupUnit(patched), dir, 'patched'));
      expect(fixedStores.some((offset) => offset >= 16 && offset < 64)).toBe(true);

      // The unpatched source, for contrast: on GCC 12 its tile shapes are dead stores.
      const original = join(dir, 'ggml', 'src', 'ggml-cpu', 'amx');
      mkdirSync(original, { recursive: true });
      writeFileSync(join(original, 'mmq.cpp'), patched);
      execFileSync('git', ['apply', '-R', join(patchesDir, PATCH)], { cwd: dir });
      const unpatched = readFileSync(join(original, 'mmq.cpp'), 'utf8');
      expect(unpatched).toContain('_tile_loadconfig(&tc);');
      const originalStores = storesBeforeLoad(assemble(tileSetupUnit(unpatched), dir, 'unpatched'));
      const version = execFileSync(compiler, ['-dumpfullversion'], { encoding: 'utf8' }).trim();
      console.log(`${compiler} ${version}: stores into the tile config before ldtilecfg, at offsets ` +
        `[${fixedStores.sort((a, b) => a - b).join(', ')}] patched, [${originalStores.sort((a, b) => a - b).join(', ')}] unpatched`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  (compilerTargetsAmx ? it : it.skip)('the patched mmq.cpp compiles with AMX enabled', () => {
    // The AMX kernels as a native build on an AMX CPU compiles them (-march=native implies these flags there).
    const ggml = join(root, 'vendor', 'llama.cpp', 'ggml');
    const dir = mkdtempSync(join(tmpdir(), 'amulet-amx-'));
    try {
      execFileSync(compiler, ['-std=gnu++17', '-O2', '-c', '-o', join(dir, 'mmq.o'), '-fopenmp', '-mavx512f', '-mavx512bw',
        '-mavx512vl', '-mavx512dq', '-mavx512vnni', '-mavx512bf16', '-mf16c', '-mfma', '-mamx-tile', '-mamx-int8',
        '-mamx-bf16', '-D_GNU_SOURCE', '-DGGML_USE_OPENMP', `-I${join(ggml, 'include')}`, `-I${join(ggml, 'src')}`,
        `-I${join(ggml, 'src', 'ggml-cpu')}`, MMQ], { stdio: 'pipe' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  (cpuHasAmx ? it : it.skip)('is used: on an AMX CPU the native build enables AMX', () => {
    expect(nativeBinding().systemInfo().system).toMatch(/AMX_INT8 = 1/);
  });
});

describe.each(testModels)('multi-sequence batches on quantised $name', (testModel) => {
  const model = useTestModel(testModel);

  it('decodes three sequences per step, prompt batches included, deterministically', async () => {
    const preferences = [paperPreference('concise'), paperPreference('uplifting')];
    const run = async (): Promise<{ tokens: number[]; sequences: number; evaluated: number }> => {
      const session = model().createSession({ preferences, method: 'amulet', threads: 2 });
      try {
        const tokens: number[] = [];
        const stream = session.prompt('How do I boil an egg?', { maxTokens: 16 });
        for await (const chunk of stream) tokens.push(...chunk.tokens);
        const result = await stream;
        return { tokens, sequences: result.sequenceCount, evaluated: result.evaluatedPromptTokenCount };
      } finally {
        await session.dispose();
      }
    };
    const first = await run();
    expect(first.sequences).toBe(3);
    expect(first.evaluated).toBeGreaterThan(3);  // multi-token prompt batches ran
    expect(first.tokens.length).toBeGreaterThan(0);
    expect((await run()).tokens).toEqual(first.tokens);
  });
});
