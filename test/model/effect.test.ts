/**
 * Realignment has an effect on a real instruct model (Qwen2.5-Coder-0.5B-
 * Instruct), measured on a handful of the test questions: Amulet moves the
 * answer the way the preference prompt does, and at least as far, on length
 * ("concise") and on formatting ("formatted as a bulleted list"). Directions
 * are asserted with a margin over means, never an exact output: with a wide
 * margin at the paper's α = 2, and as a direction at the default α, whose
 * smaller push leaves some answers at the length cap (a single greedy choice
 * that another CPU may make differently moves such a mean by a quarter).
 */
import { echoShare } from '../../eval/degeneration';
import { listItemShare } from '../../eval/proxies/layout';
import type { Model, RealignMethod, RealignOptions } from '../../lib/index';
import { loadQuestions, testThreads } from '../support/models';
import { useTestModel } from '../support/sessions';

const QUESTION_COUNT = 4;
const MAX_TOKENS = 48;
const questions = loadQuestions(QUESTION_COUNT);
const concise = 'Your answer should be concise as much as possible.';
const bullets = 'Your answer should be formatted as a bulleted list.';

interface Answers {
  texts: string[];
  tokenCounts: number[];
}

async function answerAll(model: Model, method: RealignMethod, preference?: string, realign: RealignOptions = {}):
  Promise<Answers> {
  const session = model.createSession({
    ...realign, method, preferences: preference ? [preference] : [], threads: testThreads,
  });
  const answers: Answers = { texts: [], tokenCounts: [] };
  try {
    for (const question of questions) {
      session.clearHistory();
      const result = await session.prompt(question, { maxTokens: MAX_TOKENS });
      answers.texts.push(result.text);
      answers.tokenCounts.push(result.generatedTokenCount);
    }
  } finally {
    await session.dispose();
  }
  return answers;
}

const mean = (values: readonly number[]): number => values.reduce((sum, value) => sum + value, 0) / values.length;

describe('realignment effect on qwen2.5-coder-0.5b-instruct', () => {
  const model = useTestModel({ name: 'qwen2.5-coder-0.5b-instruct' });
  let base: Answers;

  beforeAll(async () => {
    base = await answerAll(model(), 'base');
  });

  it('concise: amulet shortens the answers, at least as much as the preference prompt', async () => {
    const pref = await answerAll(model(), 'pref', concise);
    const paper = await answerAll(model(), 'amulet', concise, { alpha: 2 });
    const byDefault = await answerAll(model(), 'amulet', concise);
    const lengths = {
      base: mean(base.tokenCounts), pref: mean(pref.tokenCounts),
      paper: mean(paper.tokenCounts), byDefault: mean(byDefault.tokenCounts),
    };
    console.log(`concise over ${QUESTION_COUNT} questions: mean tokens base ${lengths.base.toFixed(1)}, ` +
      `pref ${lengths.pref.toFixed(1)}, amulet α = 2 ${lengths.paper.toFixed(1)}, ` +
      `amulet by default ${lengths.byDefault.toFixed(1)}`);
    expect(lengths.paper).toBeLessThan(lengths.base * 0.75);
    expect(lengths.paper).toBeLessThanOrEqual(lengths.pref);
    expect(lengths.byDefault).toBeLessThan(lengths.base);
    expect(lengths.byDefault).toBeLessThanOrEqual(lengths.pref);
  });

  it('bullets: amulet turns the answers into lists, at least as much as the preference prompt', async () => {
    const pref = await answerAll(model(), 'pref', bullets);
    const paper = await answerAll(model(), 'amulet', bullets, { alpha: 2 });
    const byDefault = await answerAll(model(), 'amulet', bullets);
    const share = (answers: Answers): number => mean(answers.texts.map(listItemShare));
    const shares = { base: share(base), pref: share(pref), paper: share(paper), byDefault: share(byDefault) };
    console.log(`bullets over ${QUESTION_COUNT} questions: mean share of list lines base ${shares.base.toFixed(2)}, ` +
      `pref ${shares.pref.toFixed(2)}, amulet α = 2 ${shares.paper.toFixed(2)}, ` +
      `amulet by default ${shares.byDefault.toFixed(2)}`);
    expect(shares.paper).toBeGreaterThan(shares.base + 0.25);
    expect(shares.paper).toBeGreaterThanOrEqual(shares.pref);
    expect(shares.byDefault).toBeGreaterThan(shares.base);
    expect(shares.byDefault).toBeGreaterThanOrEqual(shares.pref);
  });

  it("bullets with the echo guard at α = 2: the preference's words no more often than pref's, still lists", async () => {
    const pref = await answerAll(model(), 'pref', bullets);
    const guarded = await answerAll(model(), 'amulet', bullets, { alpha: 2, echoGuard: true });
    const echo = (answers: Answers): number => mean(answers.texts.map((text) => echoShare(text, bullets) ?? 0));
    const share = (answers: Answers): number => mean(answers.texts.map(listItemShare));
    console.log(`bullets with the echo guard over ${QUESTION_COUNT} questions: echo pref ${echo(pref).toFixed(3)}, ` +
      `guarded ${echo(guarded).toFixed(3)}; list lines base ${share(base).toFixed(2)}, pref ${share(pref).toFixed(2)}, ` +
      `guarded ${share(guarded).toFixed(2)}`);
    // A margin of one word in a hundred, for a greedy choice another CPU may make differently.
    expect(echo(guarded)).toBeLessThanOrEqual(echo(pref) + 0.01);
    expect(share(guarded)).toBeGreaterThan(share(base) + 0.25);
  });
});
