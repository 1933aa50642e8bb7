/**
 * resolveModelFile against a fake Hugging Face Hub and CDN on loopback: no
 * test reaches the internet (HF_ENDPOINT points at the fake hub throughout).
 */
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { isAmuletError, type AmuletErrorCode } from '../../lib/errors';
import { DownloadError, resolveModelFile, type DownloadProgress } from '../../lib/model-source';
import { FakeHub, sha256Of, testBytes } from '../support/fake-hub';

const SIZE = 1_500_000;
const savedEnvironment = { ...process.env };
let hub: FakeHub;
let cacheDir: string;

beforeAll(async () => {
  hub = await FakeHub.start();
});

afterAll(async () => {
  await hub.close();
});

beforeEach(async () => {
  for (const name of ['HF_TOKEN', 'HF_HUB_OFFLINE', 'AMULET_MODELS_DIR']) delete process.env[name];
  process.env.HF_ENDPOINT = hub.hubUrl;
  cacheDir = await mkdtemp(join(tmpdir(), 'amulet-hub-test-'));
  hub.files.length = 0;
  hub.plainFiles.clear();
  hub.requests.length = 0;
  hub.failNextResolves.length = 0;
  hub.treePageSize = 1000;
  Object.assign(hub.cdn, { cuts: 0, cutAfterBytes: 0, ignoreRange: false, delayPerChunkMs: 0 });
});

afterEach(async () => {
  process.env = { ...savedEnvironment };
  await rm(cacheDir, { recursive: true, force: true });
});

/** The rejection of `promise`, which must be an AmuletError with `code`. */
async function rejection(promise: Promise<unknown>, code: AmuletErrorCode): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (!isAmuletError(error, code)) throw new Error(`expected ${code}, got ${String(error)}`);
  return error;
}

/** Names in the folder of `path` that are partial downloads of it. */
async function partialsOf(path: string): Promise<string[]> {
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  return names.filter((name) => name.endsWith('.partial'));
}

function addModel(seed = 1, path = 'model-q4_k_m.gguf', extra: { private?: boolean; publishedSha256?: string } = {}) {
  return hub.addFile({ owner: 'owner', repo: 'repo', path, content: testBytes(SIZE, seed), ...extra });
}

describe('resolveModelFile from the hub', () => {
  test('downloads through the CDN redirect into owner/repo/revision/file, with throttled progress', async () => {
    const file = addModel();
    hub.cdn.delayPerChunkMs = 15;
    const events: DownloadProgress[] = [];
    const started = performance.now();
    const path = await resolveModelFile('hf:owner/repo/model-q4_k_m.gguf', {
      cacheDir,
      onProgress: (progress) => events.push(progress),
    });
    const elapsedMs = performance.now() - started;

    expect(path).toBe(join(cacheDir, 'hf', 'owner', 'repo', 'main', 'model-q4_k_m.gguf'));
    expect((await readFile(path)).equals(file.content)).toBe(true);
    expect(events.at(-1)).toEqual({ downloadedBytes: SIZE, totalBytes: SIZE, fraction: 1 });
    expect(events.length).toBeGreaterThan(1);
    expect(events.length).toBeLessThanOrEqual(Math.ceil(elapsedMs / 100) + 2);
    for (const [index, event] of events.entries()) {
      if (index > 0) expect(event.downloadedBytes).toBeGreaterThanOrEqual(events[index - 1]!.downloadedBytes);
    }
    expect(hub.requestsTo('hub').map((request) => request.path)).toEqual(['/owner/repo/resolve/main/model-q4_k_m.gguf']);
    expect(hub.requestsTo('cdn')).toHaveLength(1);
    const record = JSON.parse(await readFile(`${path}.meta.json`, 'utf8')) as { size: number; sha256: string };
    expect(record).toMatchObject({ size: SIZE, sha256: sha256Of(file.content) });
    expect(await partialsOf(path)).toEqual([]);
  });

  test('resumes with a Range request after the server cuts the connection mid-body', async () => {
    const file = addModel(2);
    Object.assign(hub.cdn, { cuts: 1, cutAfterBytes: 600_000 });
    const path = await resolveModelFile('hf:owner/repo/model-q4_k_m.gguf', { cacheDir });

    expect((await readFile(path)).equals(file.content)).toBe(true);
    const cdnRequests = hub.requestsTo('cdn');
    expect(cdnRequests).toHaveLength(2);
    expect(cdnRequests[0]!.headers.range).toBeUndefined();
    const resumedFrom = Number(/^bytes=(\d+)-$/.exec(cdnRequests[1]!.headers.range ?? '')?.[1]);
    expect(resumedFrom).toBeGreaterThan(0);
    expect(resumedFrom).toBeLessThanOrEqual(600_000);
    expect(cdnRequests[1]!.status).toBe(206);
  });

  test('starts over when the server ignores Range and sends the whole file', async () => {
    const file = addModel(3);
    Object.assign(hub.cdn, { cuts: 1, cutAfterBytes: 500_000, ignoreRange: true });
    const path = await resolveModelFile('hf:owner/repo/model-q4_k_m.gguf', { cacheDir });

    expect((await readFile(path)).equals(file.content)).toBe(true);
    const cdnRequests = hub.requestsTo('cdn');
    expect(cdnRequests).toHaveLength(2);
    expect(cdnRequests[1]!.headers.range).toMatch(/^bytes=\d+-$/);
    expect(cdnRequests[1]!.status).toBe(200);
  });

  test('gives up with ERR_DOWNLOAD when a server without Range support keeps cutting at the same place', async () => {
    addModel(12);
    Object.assign(hub.cdn, { cuts: 100, cutAfterBytes: 300_000, ignoreRange: true });
    const error = await rejection(resolveModelFile('hf:owner/repo/model-q4_k_m.gguf', { cacheDir }), 'ERR_DOWNLOAD');
    expect((error as DownloadError).status).toBeUndefined();
    expect(error.message).toContain(`${hub.hubUrl}/owner/repo/resolve/main/model-q4_k_m.gguf`);
    expect(hub.requestsTo('cdn')).toHaveLength(4);
  });

  test('retries a 503 from the hub', async () => {
    const file = addModel(4);
    hub.failNextResolves.push(503);
    const path = await resolveModelFile('hf:owner/repo/model-q4_k_m.gguf', { cacheDir });
    expect((await readFile(path)).equals(file.content)).toBe(true);
    expect(hub.requestsTo('hub').map((request) => request.status)).toEqual([503, 302]);
  });

  test('fails with ERR_CHECKSUM when the file does not match the published sha256, leaving no file', async () => {
    addModel(5, 'model-q4_k_m.gguf', { publishedSha256: sha256Of(testBytes(SIZE, 99)) });
    const error = await rejection(resolveModelFile('hf:owner/repo/model-q4_k_m.gguf', { cacheDir }), 'ERR_CHECKSUM');

    expect(error).toBeInstanceOf(DownloadError);
    expect(error.message).toContain(`${hub.hubUrl}/owner/repo/resolve/main/model-q4_k_m.gguf`);
    const finalPath = join(cacheDir, 'hf', 'owner', 'repo', 'main', 'model-q4_k_m.gguf');
    await expect(stat(finalPath)).rejects.toThrow();
    expect(await partialsOf(finalPath)).toEqual([]);
  });

  test('maps 404 to ERR_MODEL_NOT_FOUND, naming the URL and the status', async () => {
    const error = await rejection(resolveModelFile('hf:owner/repo/missing.gguf@v1.0', { cacheDir }), 'ERR_MODEL_NOT_FOUND');
    expect(error).toBeInstanceOf(DownloadError);
    expect((error as DownloadError).status).toBe(404);
    expect(error.message).toContain(`${hub.hubUrl}/owner/repo/resolve/v1.0/missing.gguf`);
    expect(error.message).toContain('Entry not found');
  });

  test('asks for HF_TOKEN on 401, and sends the token to the hub but not across the redirect', async () => {
    const file = addModel(6, 'model-q4_k_m.gguf', { private: true });
    const refused = await rejection(resolveModelFile('hf:owner/repo/model-q4_k_m.gguf', { cacheDir }), 'ERR_DOWNLOAD_AUTH');
    expect((refused as DownloadError).status).toBe(401);
    expect(refused.message).toContain('HF_TOKEN');

    process.env.HF_TOKEN = 'hf_wrong_token';
    const wrong = await rejection(resolveModelFile('hf:owner/repo/model-q4_k_m.gguf', { cacheDir }), 'ERR_DOWNLOAD_AUTH');
    expect(wrong.message).not.toContain('hf_wrong_token');
    expect(wrong.message).toContain('token was refused');

    process.env.HF_TOKEN = hub.token;
    hub.requests.length = 0;
    const path = await resolveModelFile('hf:owner/repo/model-q4_k_m.gguf', { cacheDir });
    expect((await readFile(path)).equals(file.content)).toBe(true);
    expect(hub.requestsTo('hub')[0]!.headers.authorization).toBe(`Bearer ${hub.token}`);
    expect(hub.requestsTo('cdn')[0]!.headers.authorization).toBeUndefined();
  });

  test('uses HF_ENDPOINT, and options.endpoint over it', async () => {
    const file = addModel(7);
    const path = await resolveModelFile('hf:owner/repo/model-q4_k_m.gguf', { cacheDir });
    expect((await readFile(path)).equals(file.content)).toBe(true);
    expect(hub.requestsTo('hub')).toHaveLength(1);

    process.env.HF_ENDPOINT = 'http://127.0.0.1:9';
    const other = await resolveModelFile('hf:owner/repo/model-q4_k_m.gguf@main', {
      cacheDir: join(cacheDir, 'second'),
      endpoint: `${hub.hubUrl}/`,
    });
    expect((await readFile(other)).equals(file.content)).toBe(true);
    expect(hub.requestsTo('hub')).toHaveLength(2);
  });

  test('aborts with ERR_ABORTED, keeps the part, and a later call resumes it', async () => {
    const file = addModel(8);
    hub.cdn.delayPerChunkMs = 10;
    const controller = new AbortController();
    const finalPath = join(cacheDir, 'hf', 'owner', 'repo', 'main', 'model-q4_k_m.gguf');
    await rejection(
      resolveModelFile('hf:owner/repo/model-q4_k_m.gguf', {
        cacheDir,
        signal: controller.signal,
        onProgress: ({ downloadedBytes }) => {
          if (downloadedBytes > 400_000) controller.abort();
        },
      }),
      'ERR_ABORTED',
    );
    const partials = await partialsOf(finalPath);
    expect(partials).toHaveLength(1);
    const kept = (await stat(join(dirname(finalPath), partials[0]!, 'data'))).size;
    expect(kept).toBeGreaterThan(400_000);
    await expect(stat(finalPath)).rejects.toThrow();

    hub.cdn.delayPerChunkMs = 0;
    const path = await resolveModelFile('hf:owner/repo/model-q4_k_m.gguf', { cacheDir });
    expect((await readFile(path)).equals(file.content)).toBe(true);
    expect(hub.requestsTo('cdn').at(-1)!.headers.range).toBe(`bytes=${kept}-`);
    expect(await partialsOf(finalPath)).toEqual([]);
  });

  test('takes over a partial download left by a dead process, and finishes one that was complete (416)', async () => {
    const file = addModel(9);
    const finalPath = join(cacheDir, 'hf', 'owner', 'repo', 'main', 'model-q4_k_m.gguf');
    // 4194305 is above Linux's largest pid, so no process has it.
    const partialDir = `${finalPath}.4194305-0-0badf00d.partial`;
    await mkdir(partialDir, { recursive: true });
    await writeFile(join(partialDir, 'data'), file.content.subarray(0, 700_000));
    await writeFile(join(partialDir, 'source.json'), JSON.stringify({ sha256: sha256Of(file.content), size: SIZE }));
    const path = await resolveModelFile('hf:owner/repo/model-q4_k_m.gguf', { cacheDir });
    expect((await readFile(path)).equals(file.content)).toBe(true);
    expect(hub.requestsTo('cdn')[0]!.headers.range).toBe('bytes=700000-');

    await rm(path);
    await rm(`${path}.meta.json`);
    await mkdir(partialDir);
    await writeFile(join(partialDir, 'data'), file.content);
    await writeFile(join(partialDir, 'source.json'), JSON.stringify({ sha256: sha256Of(file.content), size: SIZE }));
    hub.requests.length = 0;
    expect(await resolveModelFile('hf:owner/repo/model-q4_k_m.gguf', { cacheDir })).toBe(path);
    expect((await readFile(path)).equals(file.content)).toBe(true);
    expect(hub.requestsTo('cdn').map((request) => request.status)).toEqual([416]);
  });

  test('two concurrent calls for one file both get the complete file', async () => {
    const file = addModel(10);
    hub.cdn.delayPerChunkMs = 2;
    const [first, second] = await Promise.all([
      resolveModelFile('hf:owner/repo/model-q4_k_m.gguf', { cacheDir }),
      resolveModelFile('hf:owner/repo/model-q4_k_m.gguf', { cacheDir }),
    ]);
    expect(first).toBe(second);
    expect((await readFile(first)).equals(file.content)).toBe(true);
    expect(await partialsOf(first)).toEqual([]);
  });

  test('returns a cached file without the network once the servers are gone', async () => {
    const ownHub = await FakeHub.start();
    const file = ownHub.addFile({
      owner: 'owner',
      repo: 'repo',
      revision: 'refs/pr/1',
      path: 'sub/dir/model.gguf',
      content: testBytes(200_000, 11),
    });
    const reference = 'hf:owner/repo/sub/dir/model.gguf@refs/pr/1';
    let path: string;
    try {
      path = await resolveModelFile(reference, { cacheDir, endpoint: ownHub.hubUrl });
    } finally {
      await ownHub.close();
    }
    expect(path).toBe(join(cacheDir, 'hf', 'owner', 'repo', 'refs%2Fpr%2F1', 'sub', 'dir', 'model.gguf'));

    expect(await resolveModelFile(reference, { cacheDir, endpoint: ownHub.hubUrl })).toBe(path);
    expect(await resolveModelFile(reference, { cacheDir, offline: true })).toBe(path);
    expect((await readFile(path)).equals(file.content)).toBe(true);
    process.env.HF_HUB_OFFLINE = '1';
    await rejection(resolveModelFile('hf:owner/repo/other.gguf', { cacheDir }), 'ERR_MODEL_NOT_FOUND');
  });

  test('downloads every part of a split GGUF and returns the first', async () => {
    const parts = [1, 2, 3].map((part) =>
      hub.addFile({
        owner: 'owner',
        repo: 'big',
        path: `Q4_K_M/big-Q4_K_M-0000${part}-of-00003.gguf`,
        content: testBytes(300_000, 20 + part),
      }),
    );
    const events: DownloadProgress[] = [];
    const path = await resolveModelFile('hf:owner/big/Q4_K_M/big-Q4_K_M-00001-of-00003.gguf', {
      cacheDir,
      onProgress: (progress) => events.push(progress),
    });
    expect(path).toBe(join(cacheDir, 'hf', 'owner', 'big', 'main', 'Q4_K_M', 'big-Q4_K_M-00001-of-00003.gguf'));
    for (const part of parts) {
      expect((await readFile(join(cacheDir, 'hf', 'owner', 'big', 'main', ...part.path.split('/')))).equals(part.content)).toBe(true);
    }
    expect(events.every((event) => event.totalBytes === 900_000)).toBe(true);
    expect(events.at(-1)).toEqual({ downloadedBytes: 900_000, totalBytes: 900_000, fraction: 1 });
  });
});

describe('resolveModelFile for hf:<owner>/<repo>:<quant>', () => {
  beforeEach(() => {
    const paths = ['mmproj-model-f16.gguf', 'model-Q4_K_M.gguf', 'model-Q4_K.gguf', 'model-Q8_0.gguf', 'README.md'];
    for (const [seed, path] of paths.entries()) {
      hub.addFile({ owner: 'owner', repo: 'quants', path, content: testBytes(50_000, 30 + seed) });
    }
    hub.treePageSize = 2;
  });

  test('picks the file of the quantisation from the file list (over several pages), then works offline', async () => {
    const path = await resolveModelFile('hf:owner/quants:q8_0', { cacheDir });
    expect(path).toBe(join(cacheDir, 'hf', 'owner', 'quants', 'main', 'model-Q8_0.gguf'));
    expect((await readFile(path)).equals(hub.files.find((file) => file.path === 'model-Q8_0.gguf')!.content)).toBe(true);
    expect(hub.requestsTo('hub').filter((request) => request.path.startsWith('/api/'))).toHaveLength(3);

    expect(await resolveModelFile('hf:owner/quants:Q4_K', { cacheDir })).toMatch(/model-Q4_K\.gguf$/);
    expect(await resolveModelFile('hf:owner/quants', { cacheDir })).toMatch(/model-Q4_K_M\.gguf$/);
    expect(await resolveModelFile('hf:owner/quants:Q8_0', { cacheDir, offline: true })).toBe(path);
  });

  test('names the GGUFs there are when none has the quantisation', async () => {
    const error = await rejection(resolveModelFile('hf:owner/quants:IQ2_XS', { cacheDir }), 'ERR_MODEL_NOT_FOUND');
    expect(error.message).toContain('model-Q8_0.gguf');
    expect(error.message).toContain('hf:owner/quants/<path/in/repo.gguf>');
  });
});

describe('resolveModelFile for URLs and paths', () => {
  test('downloads a plain URL, checks options.sha256, and sends no token to a host other than the hub', async () => {
    const content = testBytes(300_000, 40);
    hub.plainFiles.set('plain.gguf', content);
    process.env.HF_TOKEN = hub.token;
    const url = `${hub.cdnUrl}/files/plain.gguf`;
    const path = await resolveModelFile(url, { cacheDir, sha256: sha256Of(content) });
    expect(path.startsWith(join(cacheDir, 'url'))).toBe(true);
    expect(path.endsWith('plain.gguf')).toBe(true);
    expect((await readFile(path)).equals(content)).toBe(true);
    expect(hub.requestsTo('cdn')[0]!.headers.authorization).toBeUndefined();

    hub.plainFiles.set('other.gguf', content);
    const error = await rejection(
      resolveModelFile(`${hub.cdnUrl}/files/other.gguf`, { cacheDir, sha256: sha256Of(testBytes(10, 1)) }),
      'ERR_CHECKSUM',
    );
    expect(error.message).toContain(`${hub.cdnUrl}/files/other.gguf`);
  });

  test('returns an existing local path as given, and ERR_MODEL_NOT_FOUND for a missing one', async () => {
    const local = join(cacheDir, 'local.gguf');
    await writeFile(local, 'GGUF');
    expect(await resolveModelFile(local)).toBe(local);
    await rejection(resolveModelFile(join(cacheDir, 'missing.gguf')), 'ERR_MODEL_NOT_FOUND');
    await rejection(resolveModelFile(cacheDir), 'ERR_MODEL_NOT_FOUND');
  });

  test.each([
    'hf:',
    'hf:owner',
    'hf:owner/',
    'hf:owner/repo/model.bin',
    'hf:owner/repo/../model.gguf',
    'hf:-owner/repo/model.gguf',
    'hf:owner/repo/model.gguf@',
    'hf:owner/repo:Q4 K',
    'ftp://example.com/model.gguf',
    'http://example.com/model.gguf',
    'https://',
    '',
  ])('rejects the malformed reference %j with ERR_INVALID_OPTION', async (reference) => {
    const error = await rejection(resolveModelFile(reference, { cacheDir }), 'ERR_INVALID_OPTION');
    expect(error.message).toContain('hf:<owner>/<repo>/<path/in/repo.gguf>');
  });

  test('rejects malformed options', async () => {
    await rejection(resolveModelFile('hf:owner/repo/m.gguf', { cacheDir, sha256: 'abc' }), 'ERR_INVALID_OPTION');
    await rejection(resolveModelFile('hf:owner/repo/m.gguf', { cacheDir, endpoint: 'http://example.com' }), 'ERR_INVALID_OPTION');
    expect(hub.requests).toHaveLength(0);
  });
});
