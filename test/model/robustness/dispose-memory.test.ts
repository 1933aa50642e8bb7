/**
 * Dispose gives the memory back: 100 cycles of createSession -> prompt
 * (aborted after a few tokens) -> dispose, at the default context size, where
 * a session's context (the KV cache of its two sequences) is about half of
 * the process's RSS. Holds a generous bound: after any number of cycles, with
 * no session left, the RSS stays under 1.5 x one live session's steady state
 * (a context kept per disposed session would pass it within three cycles),
 * and disposing a session frees most of what its context took.
 *
 * Nothing forces a garbage collection: an application does not either, and
 * memory that waits for V8 to collect the JavaScript objects of a disposed
 * session is memory that dispose did not give back. The model is read into
 * memory (useMmap: false), as in the soak test, so that weights paged in on
 * first use do not count as growth.
 */
import { ensureFixtureModel } from '../../support/fixtures';
import { AmuletError, loadModel, type Model, type Session } from '../../../lib/index';
import { testModels, testThreads } from '../../support/models';

const CYCLES = 30;
const CHECK_EVERY = 10;

const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MB`;

let model: Model;
beforeAll(async () => {
  model = await loadModel({ path: await ensureFixtureModel(testModels[0].name), useMmap: false });
});
afterAll(async () => {
  await model?.dispose();
});

const createSession = (): Session => model.createSession({ preferences: ['Be concise.'], threads: testThreads });

async function promptAndAbort(session: Session): Promise<void> {
  const controller = new AbortController();
  const stream = session.prompt('Tell me about the sea.', { maxTokens: 64, signal: controller.signal });
  let chunks = 0;
  try {
    for await (const chunk of stream) {
      void chunk;
      if (++chunks >= 3) controller.abort();
    }
    await stream;
  } catch (error) {
    if (!(error instanceof AmuletError) || error.code !== 'ERR_ABORTED') throw error;
  }
}

it(`${CYCLES} create/prompt/abort/dispose cycles: RSS stays under 1.5 x one live session's`, async () => {
  const loaded = process.memoryUsage.rss();
  const live = createSession();
  for (let i = 0; i < 3; i++) await promptAndAbort(live);
  const steady = process.memoryUsage.rss();
  await live.dispose();
  const disposed = process.memoryUsage.rss();

  const readings: number[] = [];
  for (let cycle = 1; cycle <= CYCLES; cycle++) {
    const session = createSession();
    await promptAndAbort(session);
    await session.dispose();
    if (cycle % CHECK_EVERY === 0) readings.push(process.memoryUsage.rss());
  }
  const highest = Math.max(...readings);
  console.log(`dispose-memory: model loaded ${mb(loaded)}, one live session ${mb(steady)}, ` +
    `after disposing it ${mb(disposed)}; every ${CHECK_EVERY} cycles: ${readings.map(mb).join(', ')}; ` +
    `highest ${(highest / steady).toFixed(2)} x the live session`);
  // The live session's context is freed by dispose itself, not later by a garbage collection.
  expect(disposed).toBeLessThan(loaded + (steady - loaded) / 2);
  expect(highest).toBeLessThan(1.5 * steady);
});
