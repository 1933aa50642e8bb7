/**
 * Beam search on the SmolLM2 fixture: one beam is greedy decoding of the
 * preference prompt (the `pref` method), more beams search several
 * hypotheses per step, and the search validates its options and can be
 * aborted. More beams need not find a likelier sequence than greedy decoding
 * (the greedy prefix can drop out of the beam), so that is not asserted.
 */
import { isAmuletError } from '../../lib/index';
import { paperPreference, testThreads } from '../support/models';
import { useTestModel } from '../support/sessions';

const question = 'How do I boil an egg?';
const preferences = [paperPreference('concise')];
const maxTokens = 24;
const model = useTestModel();

it('with one beam, equals greedy decoding with the preference prompt', async () => {
  const session = model().createSession({ preferences, method: 'pref', threads: testThreads });
  const greedy = await session.prompt(question, { maxTokens });
  await session.dispose();
  const beam = await model().beamSearch(question, { preferences, beams: 1, maxTokens, threads: testThreads });
  expect(beam.text).toBe(greedy.text);
  expect(beam.generatedTokenCount).toBe(greedy.generatedTokenCount);
  expect(beam.finishReason).toBe(greedy.finishReason);
  expect(beam.sumLogProb).toBeLessThan(0);
});

it('with four beams, decodes several hypotheses per step and ranks by the raw sum (lengthPenalty 0)', async () => {
  const beam = await model().beamSearch(question, { preferences, maxTokens, lengthPenalty: 0, beams: 4, threads: testThreads });
  expect(beam.sumLogProb).toBeLessThan(0);
  expect(beam.score).toBeCloseTo(beam.sumLogProb);
  expect(beam.generatedTokenCount).toBeGreaterThan(0);
  expect(beam.generatedTokenCount).toBeLessThanOrEqual(maxTokens);
  expect(beam.decodedTokenCount).toBeGreaterThan(beam.generatedTokenCount);  // several beams were decoded per step
  expect(beam.beams).toBe(4);
});

it('validates options with typed errors', () => {
  const invalid = (options: object): unknown => {
    try {
      void model().beamSearch(question, options);
    } catch (error) {
      return error;
    }
    return undefined;
  };
  for (const options of [{ beams: 0 }, { beams: 129 }, { beams: 1.5 }, { lengthPenalty: -1 }, { maxTokens: 0 },
    { preferences: [{ text: 'Be concise.', weight: -1 }] }, { signal: 'stop' }]) {
    expect(isAmuletError(invalid(options), 'ERR_INVALID_OPTION')).toBe(true);
  }
});

it('aborts with ERR_ABORTED, before or while it runs', async () => {
  const controller = new AbortController();
  controller.abort();
  await expect(model().beamSearch(question, { preferences, signal: controller.signal })).rejects.toMatchObject(
    { code: 'ERR_ABORTED' });
  const running = new AbortController();
  const search = model().beamSearch(question, { preferences, beams: 8, maxTokens: 256, signal: running.signal,
    threads: testThreads });
  setTimeout(() => running.abort(), 50);
  await expect(search).rejects.toMatchObject({ code: 'ERR_ABORTED' });
});
