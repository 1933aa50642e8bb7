/**
 * The scoring API against the generation path: scoring the tokens a greedy
 * `pref` or `base` generation produced must reproduce the log-probabilities
 * that generation sampled from (its captured rows): to rounding for the first
 * token, whose row both compute in the same batch shapes, and within
 * ACROSS_SHAPES for the others, which the scorer computes in one batch and
 * the generation one at a time. Then the KV reuse between calls, and misuse.
 */
import { type Model, type ScoreConversation } from '../../lib/index';
import { ACROSS_SHAPES, SAME_ROWS } from '../support/agreement';
import { paperPreference, testModels, testThreads } from '../support/models';
import { useTestModel, withSession } from '../support/sessions';

const QUESTION = 'How do I keep basil alive on a kitchen windowsill?';
const SYSTEM = 'You are a helpful assistant.';
const TOKENS = 16;
const concise = paperPreference('concise');
/** Tokens below this log-prob (probability < 1e-13) carry no mass and only rounding. */
const LOG_PROB_FLOOR = -30;

interface Generated {
  tokens: number[];
  logProbs: number[];
}

function generate(model: Model, method: 'pref' | 'base'): Promise<Generated> {
  return withSession(model, { preferences: [concise] }, async (session) => {
    const generated: Generated = { tokens: [], logProbs: [] };
    for await (const chunk of session.prompt(QUESTION, { method, maxTokens: TOKENS, captureLogits: true })) {
      for (const capture of chunk.captures ?? []) {
        generated.tokens.push(capture.token);
        generated.logProbs.push(capture.realignedLogProbs[capture.token]!);
      }
    }
    return generated;
  });
}

function differences(actual: ArrayLike<number>, expected: readonly number[]): { max: number; mean: number } {
  const diffs = expected.map((value, i) => (value > LOG_PROB_FLOOR ? Math.abs(actual[i]! - value) : 0));
  return { max: Math.max(...diffs), mean: diffs.reduce((sum, value) => sum + value, 0) / diffs.length };
}

describe.each(testModels)('scoring on $name', (testModel) => {
  const model = useTestModel(testModel);

  it.each(['pref', 'base'] as const)('reproduces the log-probabilities a %s generation sampled from', async (method) => {
    const generated = await generate(model(), method);
    expect(generated.tokens.length).toBeGreaterThan(1);
    const conversation: ScoreConversation = {
      systemPrompt: method === 'pref' ? `${SYSTEM} ${concise}` : SYSTEM, question: QUESTION,
    };
    await using scorer = model().createScorer({ threads: testThreads });
    const whole = await scorer.score(conversation, generated.tokens);
    expect(whole.tokens).toEqual(generated.tokens);
    const { max, mean } = differences(whole.logProbs, generated.logProbs);
    console.log(`${testModel.name} ${method}: scoring ${generated.tokens.length} generated tokens, ` +
      `max |Δ log-prob| ${max.toExponential(2)}, mean ${mean.toExponential(2)}`);
    expect(max).toBeLessThanOrEqual(ACROSS_SHAPES);
    expect(whole.meanNll).toBeCloseTo(-whole.sumLogProb / generated.tokens.length, 10);

    // The first token's row: the prompt less its last token in one decode, then that token, as a generation does.
    const first = await model().score(conversation, generated.tokens.slice(0, 1), { threads: testThreads });
    expect(Math.abs(first.logProbs[0]! - generated.logProbs[0]!)).toBeLessThanOrEqual(SAME_ROWS);
  });

  it('evaluates only what differs from the previous call, with the same results', async () => {
    const conversation: ScoreConversation = { question: QUESTION };
    await using scorer = model().createScorer({ threads: testThreads });
    const a = await scorer.score(conversation, 'Water it. The answer is A');
    const again = await scorer.score(conversation, 'Water it. The answer is A');
    expect(a.reusedTokenCount).toBe(0);
    expect(again.reusedTokenCount).toBe(a.promptTokenCount - 1);
    expect(again.evaluatedTokenCount).toBe(a.tokens.length);
    expect(Array.from(again.logProbs)).toEqual(Array.from(a.logProbs));

    const b = await scorer.score(conversation, 'Water it. The answer is B');
    expect(b.reusedTokenCount).toBe(a.promptTokenCount - 1);
    const fresh = await model().score(conversation, 'Water it. The answer is B', { threads: testThreads });
    expect(fresh.tokens).toEqual(b.tokens);
    expect(differences(b.logProbs, Array.from(fresh.logProbs)).max).toBeLessThanOrEqual(ACROSS_SHAPES);
  });
});

describe('scoring misuse', () => {
  const model = useTestModel();
  const conversation: ScoreConversation = { question: QUESTION };

  it('refuses bad continuations and conversations with ERR_INVALID_OPTION, at once', async () => {
    await using scorer = model().createScorer({ threads: testThreads });
    const vocabulary = model().info.vocabularySize;
    expect(() => scorer.score(conversation, '')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    expect(() => scorer.score(conversation, [])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    expect(() => scorer.score(conversation, [1, vocabulary])).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('continuation[1]') }));
    expect(() => scorer.score(conversation, [1.5])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    expect(() => scorer.score({} as ScoreConversation, 'x')).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: 'conversation.question must be a string' }));
    expect(() => scorer.score({ question: 'q', history: [{ role: 'system', content: 'x' }] } as unknown as ScoreConversation,
      'x')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('conversation.history[0]') }));
    // The scorer still works.
    expect((await scorer.score(conversation, 'Water it.')).tokens.length).toBeGreaterThan(0);
  });

  it('rejects a continuation that does not fit with ERR_CONTEXT_FULL, and keeps working', async () => {
    await using scorer = model().createScorer({ threads: testThreads, contextSize: 64 });
    await expect(scorer.score(conversation, 'word '.repeat(80))).rejects.toMatchObject({ code: 'ERR_CONTEXT_FULL' });
    expect((await scorer.score(conversation, 'Water it.')).tokens.length).toBeGreaterThan(0);
  });

  it('aborts with ERR_ABORTED and refuses calls once disposed', async () => {
    const scorer = model().createScorer({ threads: testThreads });
    const controller = new AbortController();
    controller.abort();
    await expect(scorer.score(conversation, 'Water it.', { signal: controller.signal }))
      .rejects.toMatchObject({ code: 'ERR_ABORTED' });
    const queued = scorer.score(conversation, 'Water it.');
    await scorer.dispose();
    await expect(queued).rejects.toMatchObject({ code: expect.stringMatching(/ERR_ABORTED|ERR_DISPOSED/) });
    expect(() => scorer.score(conversation, 'x')).toThrow(expect.objectContaining({ code: 'ERR_DISPOSED' }));
  });
});
