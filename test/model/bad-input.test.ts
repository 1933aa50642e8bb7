/**
 * Bad input: every misuse must surface as an AmuletError with the right code
 * and a message that says what was wrong, and must leave the process (and the
 * objects not involved) working. The file ends with a successful generation
 * on the model every other test here used, and checks that nothing produced
 * an unhandled promise rejection along the way.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { ensureFixtureModel } from '../support/fixtures';
import {
  AmuletError,
  loadModel,
  type AmuletErrorCode,
  type GenerationStream,
  type Model,
  type PromptOptions,
  type Session,
  type SessionOptions,
} from '../../lib/index';
import { nativeBinding } from '../../lib/addon';
import { resolveRealign, samplingDefaults } from '../../lib/options';
import { loadTestModel, paperPreference, testModels, testThreads } from '../support/models';
import { trapUnhandledRejections, useTestModel } from '../support/sessions';
import { TIMED_OUT, within } from '../support/timing';

const smol = testModels.find((model) => model.name === 'smollm2-135m-instruct')!;
/** One thread per context: the test machine's cores are shared. */
const threads = testThreads;
const concise = paperPreference('concise');
const longAnswerPrompt = 'Write a long story about a dragon who learns to cook, with many chapters.';

const unhandled = trapUnhandledRejections();
const model = useTestModel(smol);
let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'amulet-bad-input-'));
});

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------
// helpers

function show(value: unknown): string {
  return inspect(value, { breakLength: Infinity, depth: 3 });
}

/** Asserts `error` is an AmuletError with this code and a message matching `message`. */
function expectAmuletError(error: unknown, code: AmuletErrorCode, message: RegExp = /\S/): void {
  if (!(error instanceof AmuletError)) {
    throw new Error(`expected an AmuletError ${code}, got ${show(error)}`);
  }
  expect({ code: error.code, message: error.message }).toEqual({ code, message: expect.stringMatching(message) });
  expect(error.name).toBe('AmuletError');
}

/** The error a promise rejects with; fails if it resolves. */
async function rejectionOf(promise: PromiseLike<unknown>): Promise<unknown> {
  try {
    const value = await promise;
    throw new Error(`expected a rejection, but it resolved with ${show(value)}`.slice(0, 500));
  } catch (error) {
    return error;
  }
}

/** The error a synchronous call throws; fails if it returns. */
function thrownBy(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  throw new Error('expected a synchronous throw, but the call returned');
}

/** Iterates a stream to its end; returns the chunk texts and the error the iteration threw, if any. */
async function consume(stream: GenerationStream): Promise<{ chunks: string[]; error?: unknown }> {
  const chunks: string[] = [];
  try {
    for await (const chunk of stream) chunks.push(chunk.text);
  } catch (error) {
    return { chunks, error };
  }
  return { chunks };
}


function newSession(options: SessionOptions = {}, on: Model = model()): Session {
  return on.createSession({ preferences: [concise], contextSize: 512, threads, ...options });
}

// ---------------------------------------------------------------------------

describe('loading a model from a bad path or a bad file', () => {
  it('rejects a missing file with ERR_MODEL_NOT_FOUND naming the path', async () => {
    const missing = join(workDir, 'no-such-model.gguf');
    expectAmuletError(await rejectionOf(loadModel(missing)), 'ERR_MODEL_NOT_FOUND', /no-such-model\.gguf/);
    expectAmuletError(await rejectionOf(loadModel({ path: missing })), 'ERR_MODEL_NOT_FOUND', /no-such-model\.gguf/);
    expectAmuletError(await rejectionOf(loadModel(join(workDir, 'no-dir', 'm.gguf'))), 'ERR_MODEL_NOT_FOUND',
      /no-dir/);
  });

  it('rejects a directory with ERR_MODEL_NOT_FOUND (it cannot be read as a file)', async () => {
    const directory = join(workDir, 'a-directory.gguf');
    await mkdir(directory);
    expectAmuletError(await rejectionOf(loadModel(directory)), 'ERR_MODEL_NOT_FOUND', /a-directory\.gguf/);
  });

  it('rejects an empty path and other invalid load options with ERR_INVALID_OPTION', async () => {
    const path = await ensureFixtureModel(smol.name);
    const cases: [string, unknown, RegExp][] = [
      ['empty path string', '', /path/],
      ['empty path field', { path: '' }, /path/],
      ['missing path', {}, /path/],
      ['numeric path', { path: 42 }, /path/],
      ['null options', null, /options/],
      ['negative gpuLayers', { path, gpuLayers: -1 }, /gpuLayers/],
      ['fractional gpuLayers', { path, gpuLayers: 1.5 }, /gpuLayers/],
      ['string useMmap', { path, useMmap: 'yes' }, /useMmap/],
      ['numeric chatTemplate', { path, chatTemplate: 7 }, /chatTemplate/],
      ['non-function onProgress', { path, onProgress: 'x' }, /onProgress/],
    ];
    for (const [label, options, message] of cases) {
      const error = await rejectionOf(loadModel(options as Parameters<typeof loadModel>[0]));
      try {
        expectAmuletError(error, 'ERR_INVALID_OPTION', message);
      } catch (failure) {
        throw new Error(`${label}: ${(failure as Error).message}`);
      }
    }
  });

  it('rejects an empty file, random bytes and "GGUF" followed by garbage with ERR_MODEL_LOAD', async () => {
    const files: [string, Buffer][] = [
      ['empty.gguf', Buffer.alloc(0)],
      ['random.gguf', randomBytes(4096)],
      ['gguf-garbage.gguf', Buffer.concat([Buffer.from('GGUF'), randomBytes(4096)])],
      ['gguf-only-magic.gguf', Buffer.from('GGUF')],
    ];
    // A valid version 3 header claiming absurd tensor and key counts, then garbage.
    const header = Buffer.alloc(24);
    header.write('GGUF', 0, 'latin1');
    header.writeUInt32LE(3, 4);
    header.writeBigUInt64LE(0xffff_ffff_ffffn, 8);
    header.writeBigUInt64LE(0x7fff_ffff_ffff_ffffn, 16);
    files.push(['gguf-huge-counts.gguf', Buffer.concat([header, randomBytes(1024)])]);
    for (const [name, content] of files) {
      const file = join(workDir, name);
      await writeFile(file, content);
      const error = await rejectionOf(loadModel(file));
      try {
        expectAmuletError(error, 'ERR_MODEL_LOAD', new RegExp(name.replace('.', '\\.')));
      } catch (failure) {
        throw new Error(`${name}: ${(failure as Error).message}`);
      }
    }
  });

  it('rejects the SmolLM2 fixture truncated at many offsets with ERR_MODEL_LOAD, never crashing', async () => {
    const source = await ensureFixtureModel(smol.name);
    const { size } = await stat(source);
    // From 4 bytes (just the magic) to 99% of the file, roughly evenly on a log scale,
    // plus the end of the fixed header and a cut one byte short of the end.
    const offsets = new Set<number>([4, 8, 24, size - 1]);
    for (let i = 0; i < 10; i++) offsets.add(Math.round(4 * Math.pow((size * 0.99) / 4, i / 9)));
    const file = join(workDir, 'truncated.gguf');
    const failures: string[] = [];
    for (const offset of [...offsets].sort((a, b) => a - b)) {
      await copyFile(source, file);
      await truncate(file, offset);
      const error = await rejectionOf(loadModel({ path: file, chatTemplate: smol.chatTemplate }));
      if (!(error instanceof AmuletError) || error.code !== 'ERR_MODEL_LOAD' || !error.message.includes(file)) {
        failures.push(`offset ${offset}: ${show(error)}`);
      }
    }
    expect(failures).toEqual([]);
    expect(offsets.size).toBeGreaterThanOrEqual(10);
  });
});

// ---------------------------------------------------------------------------

describe('invalid options throw ERR_INVALID_OPTION synchronously', () => {
  // [label, options, a pattern the message must match (the option's name)]
  const sessionCases: [string, unknown, RegExp][] = [
    ['options is a string', 'fast', /options/],
    ['options is null', null, /options/],
    ['options is an array', [], /options/],
    ['unknown method', { method: 'amulett' }, /method/],
    ['method is a number', { method: 3 }, /method/],
    ['method is null', { method: null }, /method/],
    ['alpha NaN', { alpha: NaN }, /alpha/],
    ['alpha Infinity', { alpha: Infinity }, /alpha/],
    ['alpha -Infinity', { alpha: -Infinity }, /alpha/],
    ['alpha negative', { alpha: -2 }, /alpha/],
    ['alpha zero', { alpha: 0 }, /alpha/],
    ['alpha string number', { alpha: '2' }, /alpha/],
    ['alpha null', { alpha: null }, /alpha/],
    ['alpha object', { alpha: { value: 2 } }, /alpha/],
    ['lambda zero', { lambda: 0 }, /lambda/],
    ['lambda negative', { lambda: -1 }, /lambda/],
    ['eta zero', { eta: 0 }, /eta/],
    ['eta NaN', { eta: NaN }, /eta/],
    ['iterations zero', { iterations: 0 }, /iterations/],
    ['iterations negative', { iterations: -5 }, /iterations/],
    ['iterations non-integer', { iterations: 1.5 }, /iterations/],
    ['iterations huge', { iterations: 1e9 }, /iterations/],
    ['iterations string', { iterations: '60' }, /iterations/],
    ['ratio negative', { method: 'la', ratio: -1 }, /ratio/],
    ['ratio NaN', { method: 'la', ratio: NaN }, /ratio/],
    ['contextSize too small', { contextSize: 8 }, /contextSize/],
    ['contextSize zero', { contextSize: 0 }, /contextSize/],
    ['contextSize 63', { contextSize: 63 }, /contextSize/],
    ['contextSize non-integer', { contextSize: 512.5 }, /contextSize/],
    ['contextSize huge', { contextSize: 1e12 }, /contextSize/],
    ['contextSize string', { contextSize: '4096' }, /contextSize/],
    ['threads negative', { threads: -1 }, /threads/],
    ['threads non-integer', { threads: 1.5 }, /threads/],
    ['batchSize zero', { batchSize: 0 }, /batchSize/],
    ['batchSize huge', { batchSize: 1e9 }, /batchSize/],
    ['systemPrompt number', { systemPrompt: 5 }, /systemPrompt/],
    ['systemPrompt null', { systemPrompt: null }, /systemPrompt/],
    ['preferences string', { preferences: concise }, /preferences/],
    ['preferences null', { preferences: null }, /preferences/],
    ['preference empty text', { preferences: [''] }, /preferences\[0\]/],
    ['preference whitespace-only text', { preferences: [' \n\t '] }, /preferences\[0\]/],
    ['preference object with blank text', { preferences: [{ text: '   ' }] }, /preferences\[0\]/],
    ['preference without text', { preferences: [{ weight: 1 }] }, /preferences\[0\]/],
    ['preference null entry', { preferences: [concise, null] }, /preferences\[1\]/],
    ['preference number entry', { preferences: [7] }, /preferences\[0\]/],
    ['preference NaN weight', { preferences: [{ text: concise, weight: NaN }] }, /weight/],
    ['preference Infinity weight', { preferences: [{ text: concise, weight: Infinity }] }, /weight/],
    ['preference string weight', { preferences: [{ text: concise, weight: '1' }] }, /weight/],
    ['sampling string', { sampling: 'greedy' }, /sampling/],
    ['sampling null', { sampling: null }, /sampling/],
    ['temperature -1', { sampling: { temperature: -1 } }, /temperature/],
    ['temperature NaN', { sampling: { temperature: NaN } }, /temperature/],
    ['temperature string', { sampling: { temperature: '0.7' } }, /temperature/],
    ['topP 0', { sampling: { topP: 0 } }, /topP/],
    ['topP 1.5', { sampling: { topP: 1.5 } }, /topP/],
    ['topK negative', { sampling: { topK: -1 } }, /topK/],
    ['topK non-integer', { sampling: { topK: 2.5 } }, /topK/],
    ['minP 1', { sampling: { minP: 1 } }, /minP/],
    ['repeatPenalty 0', { sampling: { repeatPenalty: 0 } }, /repeatPenalty/],
    ['repeatLastN negative', { sampling: { repeatLastN: -1 } }, /repeatLastN/],
    ['frequencyPenalty Infinity', { sampling: { frequencyPenalty: Infinity } }, /frequencyPenalty/],
    ['seed negative', { sampling: { seed: -1 } }, /seed/],
    ['seed too large', { sampling: { seed: 2 ** 40 } }, /seed/],
    ['history string', { history: 'hello' }, /history/],
    ['history with a system message', { history: [{ role: 'system', content: 'x' }] }, /history\[0\]/],
    ['history with a numeric content', { history: [{ role: 'user', content: 5 }] }, /history\[0\]/],
  ];

  it.each(sessionCases)('createSession: %s', (label, options, message) => {
    let error: unknown;
    try {
      const session = model().createSession(options as SessionOptions);
      void session.dispose();
      throw new Error(`createSession(${show(options)}) returned a session`);
    } catch (caught) {
      error = caught;
    }
    expectAmuletError(error, 'ERR_INVALID_OPTION', message);
  });

  let session: Session;
  beforeAll(() => {
    session = newSession();
  });
  afterAll(async () => {
    await session?.dispose();
  });

  /**
   * Asserts that prompt() throws ERR_INVALID_OPTION synchronously. When it
   * does not, lets the generation run out (so the shared session stays
   * usable) and fails with what happened instead.
   */
  async function expectInvalidPrompt(text: unknown, options: unknown, message: RegExp, on: Session = session) {
    let stream: GenerationStream;
    try {
      stream = on.prompt(text as string, options as PromptOptions);
    } catch (error) {
      expectAmuletError(error, 'ERR_INVALID_OPTION', message);
      return;
    }
    let outcome: string;
    try {
      const result = await stream;
      on.clearHistory();
      outcome = `resolved with ${result.generatedTokenCount} tokens ${JSON.stringify(result.text)}`;
    } catch (error) {
      outcome = `rejected later with ${show(error)}`;
    }
    throw new Error(`prompt(${show(text)}, ${show(options)}) did not throw synchronously; the stream ${outcome}`);
  }

  // Options a prompt checks on top of the session's. maxTokens stays small in
  // case a bad value slips through and the generation runs.
  const promptCases: [string, unknown, RegExp][] = [
    ['options is a string', 'fast', /options/],
    ['options is null', null, /options/],
    ['maxTokens 0', { maxTokens: 0 }, /maxTokens/],
    ['maxTokens -1', { maxTokens: -1 }, /maxTokens/],
    ['maxTokens 1.5', { maxTokens: 1.5 }, /maxTokens/],
    ['maxTokens NaN', { maxTokens: NaN }, /maxTokens/],
    ['maxTokens huge', { maxTokens: 1e12 }, /maxTokens/],
    ['maxTokens string', { maxTokens: '8' }, /maxTokens/],
    ['maxTokens null', { maxTokens: null }, /maxTokens/],
    ['unknown method', { maxTokens: 4, method: 'beam' }, /method/],
    ['method is null', { maxTokens: 4, method: null }, /method/],
    ['alpha NaN', { maxTokens: 4, alpha: NaN }, /alpha/],
    ['lambda Infinity', { maxTokens: 4, lambda: Infinity }, /lambda/],
    ['eta negative', { maxTokens: 4, eta: -10 }, /eta/],
    ['iterations 0', { maxTokens: 4, iterations: 0 }, /iterations/],
    ['iterations 2.5', { maxTokens: 4, iterations: 2.5 }, /iterations/],
    ['ratio -0.5', { maxTokens: 4, method: 'la', ratio: -0.5 }, /ratio/],
    ['klBudget -1', { maxTokens: 4, klBudget: -1 }, /klBudget/],
    ['klBudget with amulet-iterative', { maxTokens: 4, method: 'amulet-iterative', klBudget: 0.5 }, /klBudget/],
    ['echoGuard a string', { maxTokens: 4, echoGuard: 'yes' }, /echoGuard/],
    ['echoGuard with amulet-iterative', { maxTokens: 4, method: 'amulet-iterative', echoGuard: true }, /echoGuard/],
    ['temperature -1', { maxTokens: 4, sampling: { temperature: -1 } }, /temperature/],
    ['topP 0', { maxTokens: 4, sampling: { topP: 0 } }, /topP/],
    ['topP 1.5', { maxTokens: 4, sampling: { topP: 1.5 } }, /topP/],
    ['sampling number', { maxTokens: 4, sampling: 1 }, /sampling/],
    ['preferences with whitespace-only text', { maxTokens: 4, preferences: ['   '] }, /preferences\[0\]/],
    ['preferences with NaN weight', { maxTokens: 4, preferences: [{ text: concise, weight: NaN }] }, /weight/],
    ['preferences null', { maxTokens: 4, preferences: null }, /preferences/],
    ['method amulet with no preferences', { maxTokens: 4, method: 'amulet', preferences: [] }, /preference/],
    ['method la with no preferences', { maxTokens: 4, method: 'la', preferences: [] }, /preference/],
    ['method pref with a negative weight', { maxTokens: 4, method: 'pref', preferences: [{ text: concise, weight: -1 }] },
      /negative/],
    ['signal is not an AbortSignal', { maxTokens: 4, signal: { aborted: false } }, /signal/],
    ['trace string', { maxTokens: 4, trace: 'yes' }, /trace/],
    ['captureLogits number', { maxTokens: 4, captureLogits: 1 }, /captureLogits/],
  ];

  it.each(promptCases)('prompt: %s', async (label, options, message) => {
    await expectInvalidPrompt('Hello.', options, message);
  });

  it.each([
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
    ['an object', { text: 'Hello.' }],
  ])('prompt text that is %s', async (label, text) => {
    await expectInvalidPrompt(text, { maxTokens: 4 }, /prompt/);
  });

  it("method 'amulet' (the default) on a session without preferences", async () => {
    const bare = model().createSession({ contextSize: 256, threads });
    try {
      await expectInvalidPrompt('Hello.', { maxTokens: 4 }, /amulet.*preference/, bare);
      // 'base' needs no preference, so the same session can still answer.
      const result = await bare.prompt('Say hi.', { maxTokens: 4, method: 'base' });
      expect(result.generatedTokenCount).toBeGreaterThan(0);
    } finally {
      await bare.dispose();
    }
  });

  // Huge hyperparameters that the per-option ranges accept but that overflow
  // the realignment: the guidance scale a_K - 1 or a coefficient w * a_K is
  // not a finite float32. They must be refused up front like any other bad
  // value, not fail later or decode from an all -inf distribution.
  const hugeCases: [string, unknown, RegExp][] = [
    ['alpha 1e300 (a_K overflows double)', { alpha: 1e300 }, /alpha|guidance|scale/],
    ['alpha 1e6 (a_K = 8.3e259 overflows float32)', { alpha: 1e6 }, /alpha|guidance|scale|coefficient/],
    ["ratio 1e308 with method 'la'", { method: 'la', ratio: 1e308 }, /ratio|guidance|scale|coefficient/],
    ['weight 1e308', { preferences: [{ text: concise, weight: 1e308 }] }, /weight|coefficient/],
  ];

  it.each(hugeCases)('prompt: huge value, %s', async (label, options, message) => {
    await expectInvalidPrompt('Say hi.', { maxTokens: 4, ...(options as object) }, message);
  });

  it.each(hugeCases)('createSession: huge value, %s', async (label, options, message) => {
    let created: Session | undefined;
    let error: unknown;
    try {
      created = model().createSession({ contextSize: 256, threads, preferences: [concise], ...(options as SessionOptions) });
    } catch (caught) {
      error = caught;
    }
    if (created) {
      // Accepted: a prompt must then refuse it at once.
      try {
        await expectInvalidPrompt('Say hi.', { maxTokens: 4 }, message, created);
      } finally {
        await created.dispose();
      }
      return;
    }
    expectAmuletError(error, 'ERR_INVALID_OPTION', message);
  });

  it('the session is unharmed by all the refused prompts', async () => {
    const result = await session.prompt('Say hi.', { maxTokens: 4 });
    expect(result.generatedTokenCount).toBeGreaterThan(0);
    expect(session.history).toHaveLength(2);
  });
});

// ---------------------------------------------------------------------------

describe("the addon checks the types and names of what reaches it, as when lib/ is bypassed", () => {
  it('refuses a wrong type or an unknown enum name with ERR_INVALID_OPTION naming the field', async () => {
    const binding = nativeBinding();
    const realign = resolveRealign({});
    expectAmuletError(thrownBy(() => binding.guidanceScale(undefined as never)), 'ERR_INVALID_OPTION', /realign must be an object/);
    expectAmuletError(thrownBy(() => binding.guidanceScale({ ...realign, alpha: '2' } as never)), 'ERR_INVALID_OPTION',
      /alpha must be a number/);
    expectAmuletError(thrownBy(() => binding.guidanceScale({ ...realign, method: 'nope' } as never)), 'ERR_INVALID_OPTION',
      /unknown method 'nope'/);
    const native = await binding.loadModel(model().path, { gpuLayers: 0, useMmap: true, chatTemplate: '', rpcServers: [],
      tensorSplit: [] });
    try {
      expectAmuletError(thrownBy(() => native.createContext({ contextSize: '64' } as never)), 'ERR_INVALID_OPTION',
        /contextSize must be a number/);
      const context = native.createContext({ contextSize: 128, threads, batchSize: 16, sequences: 1, cacheSize: 0 });
      const session = context.createSession();
      const request = {
        systemPrompt: 'You are a helpful assistant.', preferences: [], realign: { ...realign, method: 'base' },
        sampling: { ...samplingDefaults }, maxTokens: 2, trace: false, captureLogits: false, realignOn: 'auto',
        contextOverflow: 'error', stop: [], logitBias: [], grammar: '', jsonSchema: '',
        turns: [{ role: 'user', content: 'Hi.' }],
      };
      for (const [field, value, message] of [
        ['realignOn', 'gpu', /realignOn must be one of auto, cpu, backend \(got 'gpu'\)/],
        ['contextOverflow', 'drop', /contextOverflow must be one of error, dropOldestTurns/],
        ['trace', 'yes', /trace must be a boolean/],
        ['turns', 'Hi.', /turns must be an array/],
        ['sampling', undefined, /sampling must be an object/],
        ['maxTokens', '2', /maxTokens must be a number/],
      ] as const) {
        expectAmuletError(thrownBy(() => session.generate({ ...request, [field]: value } as never)), 'ERR_INVALID_OPTION',
          message);
      }
      session.dispose();
      context.dispose();
    } finally {
      native.dispose();
    }
  });
});

describe('a prompt longer than the context', () => {
  const words = 'the quick brown fox jumps over a lazy dog near our quiet river bank'.split(' ');
  const hugePrompt = Array.from({ length: 2000 }, (_, i) => words[i % words.length]).join(' ');

  it('fails with ERR_CONTEXT_FULL when iterated and when awaited; the session then still works', async () => {
    const session = newSession({ contextSize: 64 });
    try {
      const stream = session.prompt(hugePrompt, { maxTokens: 8 });
      const { chunks, error } = await consume(stream);
      expect(chunks).toEqual([]);
      expectAmuletError(error, 'ERR_CONTEXT_FULL', /prompt.*\d+ tokens.*64/);
      expectAmuletError(await rejectionOf(stream.result), 'ERR_CONTEXT_FULL');

      expectAmuletError(await rejectionOf(session.prompt(hugePrompt, { maxTokens: 8 })), 'ERR_CONTEXT_FULL');
      expect(session.history).toEqual([]);

      const result = await session.prompt('Hi.', { maxTokens: 4 });
      expect(result.generatedTokenCount).toBeGreaterThan(0);
      expect(session.history.map((message) => message.role)).toEqual(['user', 'assistant']);
    } finally {
      await session.dispose();
    }
  });
});

// ---------------------------------------------------------------------------

describe('aborting', () => {
  let session: Session;
  beforeAll(() => {
    session = newSession();
  });
  afterAll(async () => {
    await session?.dispose();
  });

  it('an AbortSignal fired after 3 chunks makes the iteration throw and the result reject with ERR_ABORTED', async () => {
    const controller = new AbortController();
    const stream = session.prompt(longAnswerPrompt, { maxTokens: 200, signal: controller.signal });
    let seen = 0;
    let error: unknown;
    try {
      for await (const chunk of stream) {
        expect(typeof chunk.text).toBe('string');
        if (++seen === 3) controller.abort();
      }
    } catch (caught) {
      error = caught;
    }
    expect(seen).toBeGreaterThanOrEqual(3);
    expectAmuletError(error, 'ERR_ABORTED', /abort/);
    expectAmuletError(await rejectionOf(stream.result), 'ERR_ABORTED');
    expectAmuletError(await rejectionOf(stream), 'ERR_ABORTED');
    expect(session.history).toEqual([]);
  });

  it('an already-aborted signal fails the prompt with ERR_ABORTED before any token', async () => {
    const stream = session.prompt('Say hi.', { maxTokens: 8, signal: AbortSignal.abort() });
    const { chunks, error } = await consume(stream);
    expect(chunks).toEqual([]);
    expectAmuletError(error, 'ERR_ABORTED');
    expectAmuletError(await rejectionOf(stream.result), 'ERR_ABORTED');
    expectAmuletError(await rejectionOf(session.prompt('Say hi.', { maxTokens: 8, signal: AbortSignal.abort() })),
      'ERR_ABORTED');
    expect(session.history).toEqual([]);
  });

  it('aborting a prompt queued behind another cancels it without disturbing the running one', async () => {
    const controller = new AbortController();
    const first = session.prompt('Name three fruits.', { maxTokens: 16 });
    const queued = session.prompt('Name three colours.', { maxTokens: 16, signal: controller.signal });
    const firstRun = consume(first);
    const queuedRun = consume(queued);
    controller.abort();
    const [firstOutcome, queuedOutcome] = await Promise.all([firstRun, queuedRun]);
    expect(firstOutcome.error).toBeUndefined();
    expect(firstOutcome.chunks.join('')).toBe((await first).text);
    expect(queuedOutcome.chunks).toEqual([]);
    expectAmuletError(queuedOutcome.error, 'ERR_ABORTED');
    expectAmuletError(await rejectionOf(queued.result), 'ERR_ABORTED');
    expect(session.history.map((message) => message.content)).toEqual(['Name three fruits.', (await first).text]);
    session.clearHistory();
  });

  it('breaking out of a for-await loop stops the generation; the next prompt works', async () => {
    const stream = session.prompt(longAnswerPrompt, { maxTokens: 200 });
    let seen = 0;
    for await (const chunk of stream) {
      expect(typeof chunk.text).toBe('string');
      if (++seen === 2) break;
    }
    expectAmuletError(await within(rejectionOf(stream.result), 30_000, new Error('result still pending after 30 s')),
      'ERR_ABORTED');
    const next = await session.prompt('Say hi.', { maxTokens: 4 });
    expect(next.generatedTokenCount).toBeGreaterThan(0);
    expect(session.history.map((message) => message.content)).toEqual(['Say hi.', next.text]);
    session.clearHistory();
  });
});

// ---------------------------------------------------------------------------

describe('use after dispose', () => {
  let other: Model;
  beforeAll(async () => {
    other = await loadTestModel(smol);
  });
  afterAll(async () => {
    await other?.dispose();
  });

  it('session.prompt and the other session methods after session.dispose() throw ERR_DISPOSED; dispose twice is fine',
    async () => {
      const session = newSession({}, other);
      const first = await session.prompt('Say hi.', { maxTokens: 4 });
      expect(first.generatedTokenCount).toBeGreaterThan(0);
      await session.dispose();
      expect(session.disposed).toBe(true);
      await expect(session.dispose()).resolves.toBeUndefined();
      await Promise.all([session.dispose(), session.dispose()]);
      expectAmuletError(thrownBy(() => session.prompt('Again?', { maxTokens: 4 })), 'ERR_DISPOSED', /session/);
      expectAmuletError(thrownBy(() => session.setPreferences([concise])), 'ERR_DISPOSED');
      expectAmuletError(thrownBy(() => session.clearHistory()), 'ERR_DISPOSED');
    });

  it('disposing the model mid-stream aborts the prompt; its sessions and createSession then throw ERR_DISPOSED',
    async () => {
      const doomed = await loadTestModel(smol);
      const idle = newSession({}, doomed);
      const busy = newSession({}, doomed);
      const stream = busy.prompt(longAnswerPrompt, { maxTokens: 200 });
      let seen = 0;
      let error: unknown;
      let disposal: Promise<void> | undefined;
      try {
        for await (const chunk of stream) {
          expect(typeof chunk.text).toBe('string');
          if (++seen === 2) disposal = doomed.dispose();
        }
      } catch (caught) {
        error = caught;
      }
      expectAmuletError(error, 'ERR_ABORTED');
      expect(await within(disposal!, 30_000, TIMED_OUT)).toBeUndefined();
      expect(doomed.disposed).toBe(true);
      expect(busy.disposed).toBe(true);
      expect(idle.disposed).toBe(true);
      expectAmuletError(thrownBy(() => doomed.createSession({ preferences: [concise] })), 'ERR_DISPOSED', /model/);
      expectAmuletError(thrownBy(() => idle.prompt('Hi.', { maxTokens: 4 })), 'ERR_DISPOSED');
      expectAmuletError(thrownBy(() => busy.prompt('Hi.', { maxTokens: 4 })), 'ERR_DISPOSED');
      await expect(doomed.dispose()).resolves.toBeUndefined();
      await expect(idle.dispose()).resolves.toBeUndefined();
    });

  it('disposing the model aborts its running beam search, which rejects with ERR_ABORTED', async () => {
    const doomed = await loadTestModel(smol);
    const search = doomed.beamSearch(longAnswerPrompt, { beams: 2, maxTokens: 200, threads });
    const disposal = doomed.dispose();
    expectAmuletError(await rejectionOf(search), 'ERR_ABORTED');
    expect(await within(disposal, 30_000, TIMED_OUT)).toBeUndefined();
    expectAmuletError(thrownBy(() => doomed.beamSearch('Hi.')), 'ERR_DISPOSED', /model/);
  });

  it('`await using` disposes the session and the model at the end of the block', async () => {
    let keptModel: Model | undefined;
    let keptSession: Session | undefined;
    {
      await using scoped = await loadTestModel(smol);
      await using session = scoped.createSession({ preferences: [concise], contextSize: 256, threads });
      const result = await session.prompt('Say hi.', { maxTokens: 4 });
      expect(result.generatedTokenCount).toBeGreaterThan(0);
      keptModel = scoped;
      keptSession = session;
      expect(scoped.disposed).toBe(false);
    }
    expect(keptSession.disposed).toBe(true);
    expect(keptModel.disposed).toBe(true);
    expectAmuletError(thrownBy(() => keptSession!.prompt('Hi.')), 'ERR_DISPOSED');
    expectAmuletError(thrownBy(() => keptModel!.createSession()), 'ERR_DISPOSED');
  });

  it('disposing a session whose prompt nobody consumes resolves, and that prompt rejects with ERR_ABORTED', async () => {
    const session = newSession({}, other);
    const stream = session.prompt(longAnswerPrompt, { maxTokens: 200 });
    // Let the generation start and fill part of its queue while nobody reads it.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const disposed = await within(session.dispose(), 10_000, TIMED_OUT);
    const result = await within(rejectionOf(stream.result), 5_000, TIMED_OUT);
    if (disposed === TIMED_OUT || result === TIMED_OUT) {
      // Unstick it (consuming the stream lets it settle) so the file can go on.
      await rejectionOf(stream);
    }
    expect({ dispose: disposed === TIMED_OUT ? 'still pending after 10 s' : 'resolved' }).toEqual({ dispose: 'resolved' });
    expectAmuletError(result, 'ERR_ABORTED');
  });
});

// ---------------------------------------------------------------------------

describe('the process keeps working', () => {
  it('a normal generation on the same model succeeds after all of the above', async () => {
    const session = newSession();
    try {
      let streamed = '';
      const stream = session.prompt('How do I boil an egg?', { maxTokens: 16 });
      for await (const chunk of stream) streamed += chunk.text;
      const result = await stream;
      expect(result.text).toBe(streamed);
      expect(result.text.trim().length).toBeGreaterThan(0);
      expect(result.generatedTokenCount).toBeGreaterThan(0);
    } finally {
      await session.dispose();
    }
  });

  it('no promise rejection went unhandled during the file', async () => {
    // Rejection tracking runs after the microtask queue drains: give it a turn.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(unhandled.map(show)).toEqual([]);
  });
});
