/**
 * Realignment has an effect, measured on the test questions: Amulet's
 * answers differ from the preference prompt's alone, and the "concise" and
 * "verbose" preferences move the answer length the way they say.
 */
import type { Model, RealignMethod } from '../../lib/index';
import { loadQuestions, loadTestModel, paperPreference, testModels, testThreads } from '../support/models';

const QUESTION_COUNT = 20;
const MAX_TOKENS = 128;  // the paper's setting
const questions = loadQuestions(QUESTION_COUNT);

interface Answers {
  texts: string[];
  tokenCounts: number[];
}

async function answerAll(model: Model, method: RealignMethod, adjective?: string): Promise<Answers> {
  const session = model.createSession({ method, preferences: adjective ? [paperPreference(adjective)] : [], threads: testThreads });
  const answers: Answers = { texts: [], tokenCounts: [] };
  for (const question of questions) {
    session.clearHistory();
    const result = await session.prompt(question, { maxTokens: MAX_TOKENS });
    answers.texts.push(result.text);
    answers.tokenCounts.push(result.tokenCount);
  }
  await session.dispose();
  return answers;
}

const mean = (values: number[]): number => values.reduce((sum, value) => sum + value, 0) / values.length;

describe.each(testModels)('realignment effect on $name', (testModel) => {
  let model: Model;
  let base: Answers;

  beforeAll(async () => {
    model = await loadTestModel(testModel);
    base = await answerAll(model, 'base');
  });
  afterAll(async () => {
    await model.dispose();
  });

  // Amulet extrapolates from the base prompt's distribution through the
  // preference prompt's (l_p + s (l_p - l_b)), so it moves the answer length
  // the way the preference prompt itself moves it, and further. On these tiny
  // fixture models the "verbose" sentence does not lengthen answers even as a
  // prompt (and Gemma-3-270M, a pretrained model, rarely stops at all), so the
  // test checks that direction rather than "longer than base".
  it.each(['concise', 'verbose'])('%s: amulet differs from pref and amplifies its effect on length', async (adjective) => {
    const pref = await answerAll(model, 'pref', adjective);
    const amulet = await answerAll(model, 'amulet', adjective);
    const differing = amulet.texts.filter((text, i) => text !== pref.texts[i]).length;
    const lengths = { base: mean(base.tokenCounts), pref: mean(pref.tokenCounts), amulet: mean(amulet.tokenCounts) };
    console.log(`${testModel.name} / ${adjective} over ${QUESTION_COUNT} questions: mean tokens ` +
      `base ${lengths.base.toFixed(1)}, pref ${lengths.pref.toFixed(1)}, amulet ${lengths.amulet.toFixed(1)}; ` +
      `amulet differs from pref on ${differing}/${QUESTION_COUNT}`);
    expect(differing).toBeGreaterThan(QUESTION_COUNT / 2);
    const prefShift = lengths.pref - lengths.base;
    const amuletShift = lengths.amulet - lengths.base;
    if (adjective === 'concise') expect(amuletShift).toBeLessThan(0);
    if (prefShift !== 0) {
      expect(Math.sign(amuletShift)).toBe(Math.sign(prefShift));
      expect(Math.abs(amuletShift)).toBeGreaterThanOrEqual(Math.abs(prefShift));
    }
  });
});
