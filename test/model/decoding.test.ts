/**
 * Decoding behaviour on real models: greedy decoding is deterministic, the
 * closed form and the literal K-iteration loop pick the same tokens, and the
 * batched multi-sequence decode reproduces plain single-sequence decoding.
 */
import type { GenerationResult, Model, PromptOptions } from '../../lib/index';
import { loadTestModel, paperPreference, testModels, testThreads } from '../support/models';

const LONG_QUESTION = 'Write a detailed essay about the history of the Roman Empire, from its founding to its fall.';
const TOKENS = 64;

interface Run {
  tokens: number[];
  result: GenerationResult;
}

async function generate(model: Model, options: PromptOptions & { preferences?: PromptOptions['preferences'] }): Promise<Run> {
  const session = model.createSession({ threads: testThreads });
  try {
    const tokens: number[] = [];
    const stream = session.prompt(LONG_QUESTION, { maxTokens: TOKENS, ...options });
    for await (const chunk of stream) tokens.push(...chunk.tokens);
    return { tokens, result: await stream };
  } finally {
    await session.dispose();
  }
}

describe.each(testModels)('decoding on $name', (testModel) => {
  let model: Model;
  const verbose = [paperPreference('verbose')];

  beforeAll(async () => {
    model = await loadTestModel(testModel);
  });
  afterAll(async () => {
    await model.dispose();
  });

  it('greedy decoding is deterministic', async () => {
    const first = await generate(model, { preferences: verbose });
    const second = await generate(model, { preferences: verbose });
    expect(second.tokens).toEqual(first.tokens);
  });

  it(`closed form and literal K-iteration loop give identical tokens over ${TOKENS} tokens`, async () => {
    const closed = await generate(model, { preferences: verbose, method: 'amulet' });
    const iterative = await generate(model, { preferences: verbose, method: 'amulet-iterative' });
    console.log(`${testModel.name}: amulet ${closed.result.tokenCount} tokens at ${closed.result.tokensPerSecond.toFixed(1)} tok/s; ` +
      `amulet-iterative at ${iterative.result.tokensPerSecond.toFixed(1)} tok/s`);
    expect(closed.tokens).toHaveLength(TOKENS);
    expect(iterative.tokens).toEqual(closed.tokens);
  });

  it("method 'base' gives exactly the tokens of plain decoding of the base prompt", async () => {
    const plain = await generate(model, { preferences: verbose, method: 'base' });
    expect(plain.result.sequenceCount).toBe(1);
    // The same distribution computed inside a two-sequence batch: a weight-0
    // preference leaves l_b untouched, and a trace decodes both sequences.
    const batchedWeightZero = await generate(model, { preferences: [{ text: verbose[0], weight: 0 }], method: 'amulet' });
    const batchedTrace = await generate(model, { preferences: verbose, method: 'base', trace: true });
    expect(batchedWeightZero.result.sequenceCount).toBe(2);
    expect(batchedTrace.result.sequenceCount).toBe(2);
    expect(batchedWeightZero.tokens).toEqual(plain.tokens);
    expect(batchedTrace.tokens).toEqual(plain.tokens);
  });

  it("method 'pref' gives exactly the tokens of plain decoding of the preference prompt", async () => {
    const plain = await generate(model, { preferences: verbose, method: 'pref' });
    expect(plain.result.sequenceCount).toBe(1);
    // LA with ratio 0 is l_p itself, computed in the batched two-sequence decode.
    const batched = await generate(model, { preferences: verbose, method: 'la', ratio: 0 });
    expect(batched.result.sequenceCount).toBe(2);
    expect(batched.tokens).toEqual(plain.tokens);
  });
});
