/**
 * Decoding behaviour on real models: greedy decoding is deterministic (same
 * batch shapes, same bits), the closed form and the literal K-iteration loop
 * pick the same tokens up to rounding, and the batched multi-sequence decode
 * reproduces plain single-sequence decoding up to the batch shape's rounding
 * (test/support/agreement.ts).
 */
import type { Model, PromptOptions } from '../../lib/index';
import { ACROSS_SHAPES, captureRun, expectAgreementUpToNearTie, SAME_ROWS, type CapturedRun } from '../support/agreement';
import { paperPreference, testModels } from '../support/models';
import { useTestModel, withSession } from '../support/sessions';

const LONG_QUESTION = 'Write a detailed essay about the history of the Roman Empire, from its founding to its fall.';
const TOKENS = 24;

function generate(model: Model, options: PromptOptions): Promise<CapturedRun> {
  return withSession(model, {}, (session) => captureRun(session, LONG_QUESTION, { maxTokens: TOKENS, ...options }));
}

describe.each(testModels)('decoding on $name', (testModel) => {
  const model = useTestModel(testModel);
  const verbose = [paperPreference('verbose')];

  it('greedy decoding is deterministic', async () => {
    const first = await generate(model(), { preferences: verbose });
    const second = await generate(model(), { preferences: verbose });
    expect(second.tokens).toEqual(first.tokens);
  });

  it(`closed form and literal K-iteration loop give the same tokens up to a near-tie, ${TOKENS} at most`, async () => {
    const closed = await generate(model(), { preferences: verbose, method: 'amulet' });
    const iterative = await generate(model(), { preferences: verbose, method: 'amulet-iterative' });
    console.log(`${testModel.name}: amulet ${closed.result.generatedTokenCount} tokens at ${closed.result.tokensPerSecond.toFixed(1)} tok/s; ` +
      `amulet-iterative at ${iterative.result.tokensPerSecond.toFixed(1)} tok/s`);
    expectAgreementUpToNearTie(iterative, closed, SAME_ROWS);
  });

  it("method 'base' gives the tokens of plain decoding of the base prompt, up to a near-tie", async () => {
    const plain = await generate(model(), { preferences: verbose, method: 'base' });
    expect(plain.result.sequenceCount).toBe(1);
    // The same distribution computed inside a two-sequence batch: a weight-0
    // preference leaves l_b untouched, and a trace decodes both sequences.
    const batchedWeightZero = await generate(model(), { preferences: [{ text: verbose[0], weight: 0 }], method: 'amulet' });
    const batchedTrace = await generate(model(), { preferences: verbose, method: 'base', trace: true });
    expect(batchedWeightZero.result.sequenceCount).toBe(2);
    expect(batchedTrace.result.sequenceCount).toBe(2);
    expectAgreementUpToNearTie(batchedWeightZero, plain, ACROSS_SHAPES, ACROSS_SHAPES);
    expectAgreementUpToNearTie(batchedTrace, plain, ACROSS_SHAPES, ACROSS_SHAPES);
  });

  it("method 'pref' gives the tokens of plain decoding of the preference prompt, up to a near-tie", async () => {
    const plain = await generate(model(), { preferences: verbose, method: 'pref' });
    expect(plain.result.sequenceCount).toBe(1);
    // LA with ratio 0 is l_p itself, computed in the batched two-sequence decode.
    const batched = await generate(model(), { preferences: verbose, method: 'la', ratio: 0 });
    expect(batched.result.sequenceCount).toBe(2);
    // Its rows are [base, pref] against plain decoding's [pref]: the log-probs sampled from are compared.
    expectAgreementUpToNearTie(batched, plain, ACROSS_SHAPES);
  });
});
