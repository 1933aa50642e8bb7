/**
 * Sessions of one context decode together: every step is one llama_decode
 * over the rows of every running generation, plus prompt chunks. What that
 * must not change: each generation's tokens, whoever shares its steps.
 *
 * Equality of answers: a shared context keeps its sequences in one unified
 * KV cache and decodes them in batches of other shapes than a session of its
 * own does, and llama.cpp's kernels round differently for other shapes. So a
 * generation decoded together with others is compared with the same one
 * alone by test/support/agreement.ts: the same rows within ACROSS_SHAPES at
 * every shared position, the same tokens up to the first near-tie.
 */
import { AmuletError, type Context, type GenerationResult, type Model, type PromptOptions, type Session }
  from '../../lib/index';
import { ACROSS_SHAPES, acrossShapesRealigned, captureRun, expectAgreementUpToNearTie, type CapturedRun }
  from '../support/agreement';
import { ENDLESS_TEMPERATURE, endlessSeed } from '../support/endless-seed';
import { paperPreference, testModels, testThreads } from '../support/models';
import { useTestModel } from '../support/sessions';

const concise = paperPreference('concise');
const creative = paperPreference('creative');
const questions = ['Name a colour.', 'What is a cat?', 'Say hello.', 'Count to three.'];
const TOKENS = 24;

/** The near-tie margin for answers of `result`'s method computed on other batch shapes. */
function shapeTolerance(result: GenerationResult): number {
  return result.method === 'base' || result.method === 'pref' ? ACROSS_SHAPES : acrossShapesRealigned(result.guidanceScale);
}

function expectSameAnswer(together: CapturedRun, alone: CapturedRun): void {
  expectAgreementUpToNearTie(together, alone, shapeTolerance(together.result), ACROSS_SHAPES);
}

/** The settings of the i-th concurrent conversation: realigned ones and plain ones mixed in one batch. */
function settingsOf(index: number): PromptOptions {
  const settings: PromptOptions[] = [
    { method: 'amulet', preferences: [concise] },
    { method: 'pref', preferences: [creative] },
    { method: 'amulet', preferences: [creative, { text: concise, weight: 0.5 }] },
    { method: 'base' },
  ];
  return { ...settings[index % settings.length]!, maxTokens: TOKENS };
}

/** Reads a stream until `count` tokens have come, leaving it running (a loop's `break` would abort it). */
async function tokensSeen(stream: AsyncIterable<{ tokens: number[] }>, count: number): Promise<void> {
  const chunks = stream[Symbol.asyncIterator]();
  for (let seen = 0; seen < count;) {
    const next = await chunks.next();
    if (next.done) throw new Error(`the stream ended after ${seen} tokens`);
    seen += next.value.tokens.length;
  }
}

describe('a shared context', () => {
  const testModel = testModels[0]!;
  const model = useTestModel(testModel);
  let context: Context | undefined;
  const alone = new Map<number, CapturedRun>();

  /** Each conversation's answer on a session of its own, decoded alone. */
  async function aloneAnswer(index: number): Promise<CapturedRun> {
    const cached = alone.get(index);
    if (cached) return cached;
    const session = model().createSession({ contextSize: 1024, batchSize: 64, threads: testThreads });
    try {
      const run = await captureRun(session, questions[index % questions.length]!, settingsOf(index));
      alone.set(index, run);
      return run;
    } finally {
      await session.dispose();
    }
  }

  function sharedContext(options: Parameters<Model['createContext']>[0] = {}): Context {
    context = model().createContext({ sequences: 8, contextSize: 1024, batchSize: 64, threads: testThreads, ...options });
    return context;
  }

  afterEach(async () => {
    await context?.dispose();
    context = undefined;
  });

  test(`${testModel.name}: four conversations decoded together answer as each does alone`, async () => {
    const shared = sharedContext();
    const sessions = questions.map(() => shared.createSession());
    const together = await Promise.all(sessions.map((session, index) =>
      captureRun(session, questions[index]!, settingsOf(index))));
    for (const [index, run] of together.entries()) {
      expectSameAnswer(run, await aloneAnswer(index));
      expect(run.result.generatedTokenCount).toBeGreaterThan(0);
      expect(run.result.generatedTokenCount).toBeLessThanOrEqual(TOKENS);
    }
    const metrics = shared.metrics();
    expect(metrics.generationsStarted).toBe(4);
    expect(metrics.generationsFinished).toBe(4);
    expect(metrics.generationsFailed).toBe(0);
    expect(metrics.generatedTokens).toBe(together.reduce((sum, run) => sum + run.result.generatedTokenCount, 0));
    expect(metrics.sequences).toBe(8);
    expect(metrics.running).toBe(0);
    expect(metrics.busySequences).toBe(0);
    // Each step holds the rows of every generation then running: far fewer steps than tokens.
    const rows = together.reduce((sum, run) => sum + run.result.generatedTokenCount, 0);
    expect(metrics.steps).toBeLessThan(rows);
    expect(metrics.stepSeconds.counts.reduce((sum, count) => sum + count, 0)).toBe(metrics.steps);
  });

  test('sessions join and leave a running batch, and keep their cache across turns', async () => {
    const shared = sharedContext();
    const [first, second, third] = [shared.createSession(), shared.createSession(), shared.createSession()];
    const long = captureRun(first, questions[0]!, settingsOf(0));
    const late = second.prompt(questions[1]!, { ...settingsOf(1), maxTokens: 4 });
    await late;
    const later = captureRun(third, questions[2]!, settingsOf(2));
    const [longRun, laterRun] = await Promise.all([long, later]);
    expectSameAnswer(longRun, await aloneAnswer(0));
    expectSameAnswer(laterRun, await aloneAnswer(2));
    // The next turn of a conversation evaluates only what its sequences do not hold.
    const next = await first.prompt('And another?', settingsOf(0));
    expect(next.reusedPromptTokenCount).toBeGreaterThan(0);
    expect(next.evaluatedPromptTokenCount).toBeLessThan(next.promptTokenCount);
  });

  test('aborting one generation leaves the others of its steps running', async () => {
    const seed = await endlessSeed(model(), 64);
    const shared = sharedContext();
    const [victim, survivor] = [shared.createSession(), shared.createSession()];
    const controller = new AbortController();
    const endless = victim.prompt('Go.', {
      method: 'base', maxTokens: 64, signal: controller.signal, sampling: { temperature: ENDLESS_TEMPERATURE, seed },
    });
    const kept = captureRun(survivor, questions[0]!, settingsOf(0));
    await tokensSeen(endless, 2);
    controller.abort();
    await expect(endless.result).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    expectSameAnswer(await kept, await aloneAnswer(0));
    // The aborted session serves its next prompt.
    const again = await victim.prompt(questions[1]!, settingsOf(1));
    expect(again.generatedTokenCount).toBeGreaterThan(0);
    expect(shared.metrics().generationsFailed).toBe(0);
  });

  test('a generation waits for sequences other generations hold, and one needing more than there are fails', async () => {
    const shared = sharedContext({ sequences: 2 });
    const [a, b] = [shared.createSession(), shared.createSession()];
    const results = await Promise.all([
      a.prompt(questions[0]!, settingsOf(0)),
      b.prompt(questions[2]!, { ...settingsOf(0), preferences: [creative] }),
    ]);
    for (const result of results) expect(result.generatedTokenCount).toBeGreaterThan(0);
    await expect(a.prompt(questions[0]!, settingsOf(2))).rejects.toMatchObject({ code: 'ERR_CONTEXT_FULL' });
    expect((await a.prompt(questions[3]!, settingsOf(3))).generatedTokenCount).toBeGreaterThan(0);
  });

  test('a full KV cache evicts idle conversations first, then fails the generation that started last', async () => {
    // llama.cpp rounds a cache up (to 256 cells): the test sizes its answers by what it got.
    const shared = sharedContext({ sequences: 4, cacheSize: 160 });
    const [idle, busy] = [shared.createSession(), shared.createSession()];
    await idle.prompt('Hi.', { method: 'base', maxTokens: 1 });
    const cells = shared.metrics().cells;
    expect(cells).toBeGreaterThanOrEqual(160);
    // An answer of `long` tokens and its prompt fit in the cache; two of them, or one and half of one, do not.
    const long = cells - 40;
    const seed = await endlessSeed(model(), long);
    const sampling = { temperature: ENDLESS_TEMPERATURE, seed };
    idle.clearHistory();
    await idle.prompt('Go.', { method: 'base', maxTokens: Math.floor(cells / 2), sampling });
    expect(shared.metrics().kvTokens).toBeGreaterThan(cells / 2);
    // This conversation needs the idle one's cells.
    await busy.prompt('Go.', { method: 'base', maxTokens: long, sampling });
    expect(shared.metrics().evictions).toBeGreaterThan(0);
    // Two at once cannot both fit: the later one fails, the first completes.
    idle.clearHistory();
    busy.clearHistory();
    const outcomes = await Promise.allSettled([
      idle.prompt('Go.', { method: 'base', maxTokens: long, sampling }).result,
      busy.prompt('Go.', { method: 'base', maxTokens: long, sampling }).result,
    ]);
    const failed = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(failed.length).toBeGreaterThanOrEqual(1);
    for (const outcome of failed) {
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(AmuletError);
      expect((outcome as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_CONTEXT_FULL' });
    }
    expect(outcomes[0]!.status).toBe('fulfilled');
    // The context serves again once the overflow is gone (a new conversation: the last one fills the cache).
    idle.clearHistory();
    expect((await idle.prompt(questions[2]!, { method: 'base', maxTokens: 8 })).generatedTokenCount).toBeGreaterThan(0);
  });

  test('a context refuses its own sizes per session, and nothing after dispose', async () => {
    const shared = sharedContext();
    expect(() => shared.createSession({ contextSize: 512 } as never)).toThrow(/option of the context/);
    expect(() => model().createContext({ sequences: 0 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    expect(() => model().createContext({ cacheSize: -1 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    const session = shared.createSession();
    const seed = await endlessSeed(model(), 64);
    const running = session.prompt('Go.', {
      method: 'base', maxTokens: 64, sampling: { temperature: ENDLESS_TEMPERATURE, seed },
    });
    await tokensSeen(running, 1);
    await shared.dispose();
    await expect(running.result).rejects.toBeInstanceOf(AmuletError);
    expect(session.disposed).toBe(true);
    expect(() => shared.createSession()).toThrow(expect.objectContaining({ code: 'ERR_DISPOSED' }));
    expect(() => shared.metrics()).toThrow(expect.objectContaining({ code: 'ERR_DISPOSED' }));
  });

  test('sessions of their own decoding at once all complete (the thread budget is shared)', async () => {
    const sessions: Session[] = [0, 1, 2].map(() => model().createSession({ contextSize: 512 }));
    try {
      const results = await Promise.all(sessions.map((session, index) =>
        session.prompt(questions[index]!, { method: 'base', maxTokens: 8 })));
      for (const result of results) expect(result.generatedTokenCount).toBeGreaterThan(0);
    } finally {
      await Promise.all(sessions.map((session) => session.dispose()));
    }
  });
});
