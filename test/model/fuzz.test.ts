/**
 * Property-based fuzzing of the public API with fast-check: random and
 * invalid options, texts with emoji, combining marks, control characters,
 * NULs and lone surrogates, huge prompts, zero, negative, fractional and
 * non-finite numbers. Whatever the input, every failure is an AmuletError
 * (synchronous for bad options, a rejection for what only native code can
 * tell, such as a prompt too long for the context), never another error,
 * an unhandled rejection or a crash; and every stream that succeeds streams
 * well-formed text that adds up to its result.
 *
 * Corrupt model files: test/model/bad-input.test.ts. Native failures:
 * test/model/robustness/native-failures.test.ts.
 */
import fc from 'fast-check';
import { ensureFixtureModel } from '../support/fixtures';
import {
  AmuletError,
  guidanceScale,
  loadModel,
  type Model,
  type GenerationStream,
  type PromptOptions,
  type Session,
  type SessionOptions,
} from '../../lib/index';
import { paperPreference, testModels, testThreads } from '../support/models';
import { trapUnhandledRejections, useTestModel } from '../support/sessions';

const unhandled = trapUnhandledRejections();
const model = useTestModel();

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Hostile text: any UTF-16 (lone surrogates included), graphemes (emoji, ZWJ, combining), controls, NULs. */
const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: fc.integer({ min: 0, max: 0x1f }).map((code) => String.fromCharCode(code)), maxLength: 20 }),
  fc.constantFrom('', ' ', '\u0000', '👩🏽‍💻🇫🇷', 'e\u0301', '\uD83D', '\uDE00\uD83D', '\u202e\u200b\ufeff', 'Hi.'),
);

/** Any number a user could pass, valid or not. */
const anyNumber = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.double(),
  fc.constantFrom(0, -0, -1, 0.5, 1e300, -1e300, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 53, Number.MIN_VALUE),
);

/** A value of any type, leaning to the kinds an option's validation must tell apart. */
const anyValue = fc.oneof(anyNumber, text, fc.boolean(), fc.constantFrom(null, undefined, {}, [], () => 1), fc.anything());

/**
 * An options argument: a record whose keys are each absent or valid (about
 * half the time, so that many runs reach native code), a record where a key
 * may hold anything at all, or anything at all.
 */
function argumentOf(keys: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> {
  const mixed = Object.fromEntries(Object.entries(keys).map(([key, valid]) =>
    [key, fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: anyValue })]));
  return fc.oneof(
    { weight: 4, arbitrary: fc.record(keys, { requiredKeys: [] }) },
    { weight: 3, arbitrary: fc.record(mixed, { requiredKeys: [] }) },
    { weight: 1, arbitrary: anyValue },
  );
}

const preferenceText = fc.oneof(text, fc.constantFrom(paperPreference('concise'), paperPreference('creative'), '🙂 be kind'));
const preferenceList = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.oneof(preferenceText, fc.record({ text: preferenceText, weight: fc.double({ min: -2, max: 2, noNaN: true }) }, { requiredKeys: ['text'] })), { minLength: 1, maxLength: 3 }) },
  { weight: 1, arbitrary: fc.array(fc.oneof(text, fc.record({ text, weight: anyNumber }, { requiredKeys: [] }), anyValue), { maxLength: 3 }) },
  { weight: 1, arbitrary: anyValue },
);

const positive = fc.double({ min: 1e-3, max: 20, noNaN: true });
const realignKeys = {
  method: fc.constantFrom('amulet', 'amulet-iterative', 'la', 'pref', 'base'),
  alpha: positive,
  lambda: positive,
  eta: positive,
  iterations: fc.integer({ min: 1, max: 80 }),
  ratio: fc.double({ min: 0, max: 5, noNaN: true }),
};

const samplingOptions = argumentOf({
  temperature: fc.double({ min: 0, max: 2, noNaN: true }),
  topK: fc.integer({ min: 0, max: 50 }),
  topP: fc.double({ min: 0.01, max: 1, noNaN: true }),
  minP: fc.double({ min: 0, max: 0.99, noNaN: true }),
  repeatPenalty: fc.double({ min: 0.5, max: 2, noNaN: true }),
  repeatLastN: fc.integer({ min: 0, max: 100 }),
  frequencyPenalty: fc.double({ min: -1, max: 1, noNaN: true }),
  presencePenalty: fc.double({ min: -1, max: 1, noNaN: true }),
  seed: fc.integer({ min: 0, max: 2 ** 32 - 2 }),
});

const historyOf = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.record({ role: fc.constantFrom('user', 'assistant'), content: text }), { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.array(fc.record({ role: fc.constantFrom('user', 'assistant', 'system', 'tool'), content: fc.oneof(text, anyValue) }), { maxLength: 4 }) },
  { weight: 1, arbitrary: anyValue },
);

const sessionOptions = argumentOf({
  ...realignKeys,
  systemPrompt: text,
  preferences: preferenceList,
  sampling: samplingOptions,
  history: historyOf,
  contextSize: fc.integer({ min: 64, max: 256 }),
  threads: fc.constant(testThreads),
  batchSize: fc.integer({ min: 8, max: 64 }),
  contextOverflow: fc.constantFrom('error', 'dropOldestTurns'),
});

/**
 * A valid prompt is decoded for real, so maxTokens is always given and, when
 * valid, small (the default, 256, would make each run take seconds).
 */
const maxTokens = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -1, NaN, 1.5, '2', null, 1e12, -Infinity, true) },
);
const promptOptions = fc.tuple(
  argumentOf({
    ...realignKeys,
    preferences: preferenceList,
    sampling: samplingOptions,
    trace: fc.boolean(),
    captureLogits: fc.boolean(),
    signal: fc.constantFrom(AbortSignal.abort(), new AbortController().signal, { aborted: true }),
  }),
  maxTokens,
).map(([options, tokens]) => {
  if (options === undefined) return { maxTokens: tokens };
  const isRecord = typeof options === 'object' && options !== null && !Array.isArray(options);
  return isRecord ? { ...options, maxTokens: tokens } : options;
});

/** Prompt texts: hostile short ones, and now and then one far too long for any context here. */
const promptText = fc.oneof(
  { weight: 8, arbitrary: text },
  { weight: 1, arbitrary: fc.constantFrom('🙂'.repeat(3000), 'lorem ipsum '.repeat(2000), '\u0000'.repeat(500)) },
  { weight: 1, arbitrary: anyValue },
);

/** Calls `call`; a synchronous throw must be an AmuletError. */
function expectOnlyAmuletErrors<T>(call: () => T): T | undefined {
  try {
    return call();
  } catch (error) {
    if (!(error instanceof AmuletError)) throw new Error(`not an AmuletError: ${String(error)}`, { cause: error });
    // FUZZ_DEBUG=1 tallies why inputs were refused (to check the arbitraries reach native code often enough).
    if (process.env.FUZZ_DEBUG) count(`  why: ${error.message.replace(/\(got.*$/, '').slice(0, 50)}`);
    return undefined;
  }
}

/** Drives a stream to its end: success (well-formed chunks adding up to the result) or an AmuletError. */
async function settle(stream: GenerationStream): Promise<'ok' | string> {
  let streamed = '';
  try {
    for await (const chunk of stream) {
      expect(LONE_SURROGATE.test(chunk.text)).toBe(false);
      streamed += chunk.text;
    }
    const result = await stream;
    expect(result.text).toBe(streamed);
    return 'ok';
  } catch (error) {
    if (!(error instanceof AmuletError)) throw new Error(`not an AmuletError: ${String(error)}`, { cause: error });
    return error.code;
  }
}

const outcomes = new Map<string, number>();
function count(outcome: string): void {
  outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
}

afterAll(() => {
  console.log(`fuzz outcomes: ${[...outcomes].map(([outcome, n]) => `${outcome} ${n}`).join(', ')}`);
});

it('createSession with random options: a session or a synchronous ERR_INVALID_OPTION', async () => {
  await fc.assert(fc.asyncProperty(sessionOptions, async (options) => {
    const session = expectOnlyAmuletErrors(() => model().createSession(options as SessionOptions));
    count(session ? 'createSession ok' : 'createSession rejected');
    if (session) {
      // A session that was created must then answer, or fail with an AmuletError.
      const stream = expectOnlyAmuletErrors(() => session.prompt('Hi 👋', { maxTokens: 1 }));
      count(stream ? `createSession ok, then prompt ${await settle(stream)}` : 'createSession ok, then prompt rejected');
    }
    await session?.dispose();
  }), { numRuns: 80 });
});

describe('prompt', () => {
  let plain: Session;
  let dropping: Session;
  beforeAll(() => {
    const base = { preferences: [paperPreference('concise')], contextSize: 128, batchSize: 32, threads: testThreads };
    plain = model().createSession(base);
    dropping = model().createSession({ ...base, contextOverflow: 'dropOldestTurns' });
  });
  afterAll(async () => {
    await Promise.all([plain?.dispose(), dropping?.dispose()]);
  });

  it('with random text and options: ERR_INVALID_OPTION at once, or a stream that ends well or in an AmuletError',
    async () => {
      await fc.assert(fc.asyncProperty(promptText, promptOptions, fc.boolean(), async (input, options, drop) => {
        const session = drop ? dropping : plain;
        const stream = expectOnlyAmuletErrors(() => session.prompt(input as string, options as PromptOptions));
        if (!stream) {
          count('prompt rejected');
          return;
        }
        const outcome = await settle(stream);
        count(`prompt ${outcome}`);
        // Every exchange is kept and the context is small: start over now and then.
        if (session.history.length > 6) session.clearHistory();
      }), { numRuns: 200 });
    });

  it('setPreferences with random input: applied, or ERR_INVALID_OPTION leaving the old preferences', async () => {
    await fc.assert(fc.property(preferenceList, (preferences) => {
      const before = plain.preferences;
      const applied = expectOnlyAmuletErrors(() => {
        plain.setPreferences(preferences as never);
        return true;
      });
      if (!applied) expect(plain.preferences).toEqual(before);
    }), { numRuns: 200 });
    plain.setPreferences([paperPreference('concise')]);
  });

  it('after all that, the sessions still answer', async () => {
    plain.clearHistory();
    dropping.clearHistory();
    for (const session of [plain, dropping]) {
      const result = await session.prompt('Say hi.', { maxTokens: 4 });
      expect(result.generatedTokenCount).toBeGreaterThan(0);
    }
  });
});

it('guidanceScale with random options: a finite number or ERR_INVALID_OPTION', () => {
  fc.assert(fc.property(argumentOf(realignKeys), (options) => {
    const scale = expectOnlyAmuletErrors(() => guidanceScale(options as never));
    if (scale !== undefined) expect(Number.isFinite(scale)).toBe(true);
  }), { numRuns: 300 });
});

it('loadModel with random options: a model or a rejection with an AmuletError', async () => {
  const path = await ensureFixtureModel(testModels[0].name);
  const loadOptions = fc.oneof(
    { weight: 4, arbitrary: argumentOf({
      path: fc.oneof({ weight: 3, arbitrary: fc.constant(path) }, { weight: 1, arbitrary: fc.constantFrom(`${path}.missing`, '', '/', '/dev/null', '\u0000', '👩🏽‍💻.gguf') }),
      gpuLayers: fc.constantFrom(0, 0, 0, 1),
      useMmap: fc.boolean(),
      chatTemplate: fc.constantFrom('chatml', 'gemma', 'llama3', '{{ nonsense', ''),
      onProgress: fc.constantFrom(() => undefined, () => {
        throw new Error('progress callback failure');
      }),
    }) },
    { weight: 1, arbitrary: text },
    { weight: 1, arbitrary: anyValue },
  );
  await fc.assert(fc.asyncProperty(loadOptions, async (options) => {
    let loaded: Model | undefined;
    try {
      loaded = await loadModel(options as never);
      // Whatever template it was given, the model answers (or fails with an AmuletError).
      const session = loaded.createSession({ contextSize: 64, threads: testThreads, method: 'base' });
      count(`loadModel ok, then prompt ${await settle(session.prompt('Hi.', { maxTokens: 1 }))}`);
    } catch (error) {
      if (!(error instanceof AmuletError)) throw new Error(`not an AmuletError: ${String(error)}`, { cause: error });
      count(`loadModel ${error.code}`);
    }
    await loaded?.dispose();
  }), { numRuns: 40 });
});

it('no promise rejection went unhandled', async () => {
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(unhandled.map(String)).toEqual([]);
});
