/**
 * loadModel takes a Hugging Face reference: the GGUF is fetched from a hub
 * (a fake one on loopback, serving the SmolLM2 fixture in the hub's URL
 * layout), verified against the sha256 the hub publishes, cached, and loaded;
 * a second load needs no network.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, type DownloadProgress } from '../../lib/index';
import { FakeHub } from '../support/fake-hub';
import { ensureFixtureModel } from '../support/fixtures';
import { testThreads } from '../support/models';

let hub: FakeHub;
let cacheDir: string;
beforeAll(async () => {
  hub = await FakeHub.start();
  cacheDir = mkdtempSync(join(tmpdir(), 'amulet-hub-cache-'));
  const content = readFileSync(await ensureFixtureModel('smollm2-135m-instruct'));
  hub.addFile({ owner: 'HuggingFaceTB', repo: 'SmolLM2-135M-Instruct-GGUF', path: 'smollm2-135m-instruct-q4_1.gguf', content });
});
afterAll(async () => {
  await hub?.close();
  rmSync(cacheDir, { recursive: true, force: true });
});

it('downloads, verifies, caches and loads an hf: reference, then loads it offline', async () => {
  const reference = 'hf:HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/smollm2-135m-instruct-q4_1.gguf';
  const progress: DownloadProgress[] = [];
  const model = await loadModel({ path: reference, cacheDir, endpoint: hub.hubUrl, onDownloadProgress: (p) => progress.push(p) });
  try {
    expect(model.path.startsWith(cacheDir)).toBe(true);
    expect(progress.at(-1)?.fraction).toBe(1);
    const session = model.createSession({ method: 'base', threads: testThreads });
    expect((await session.prompt('Hi.', { maxTokens: 4 })).generatedTokenCount).toBeGreaterThan(0);
  } finally {
    await model.dispose();
  }
  await hub.close();
  const again = await loadModel({ path: reference, cacheDir, endpoint: hub.hubUrl, offline: true });
  await again.dispose();
});
