/**
 * Soak: generations across three concurrent sessions of one model, most
 * of them cut short at a random point (an AbortSignal fired after some
 * chunks or after some milliseconds, possibly during prompt evaluation;
 * breaking out of the loop; a signal aborted before the prompt starts), with
 * a session disposed and recreated now and then. Measures the process's RSS
 * after a warm-up and at the end, in the same state (three live sessions,
 * idle, after a garbage collection), prints both, and holds the
 * threshold: growth after warm-up under 5%.
 *
 * The model is read into memory (useMmap: false): memory-mapped weights are
 * paged in as they are first touched (the embedding row of each token the
 * model first sees), which would count as growth without being a leak.
 *
 * Seeded (SOAK_SEED), so a failing run can be replayed.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ensureFixtureModel } from '../../support/fixtures';
import { AmuletError, loadModel, type Model, type Session } from '../../../lib/index';
import { concurrentThreads, paperPreference, testModels } from '../../support/models';

const GENERATIONS = 120;
const SESSIONS = 3;
const WARM_UP = 30;
const seed = Number(process.env.SOAK_SEED ?? 20250227);

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** mulberry32: a small seeded PRNG. */
function random(state: { s: number }): () => number {
  return () => {
    state.s = (state.s + 0x6d2b79f5) | 0;
    let t = Math.imul(state.s ^ (state.s >>> 15), 1 | state.s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const questions = [
  'Name a fruit.', 'Why is the sky blue?', 'Write a haiku about rain.', 'How do I boil an egg?',
  'Tell me a joke about cats.', 'What is 2 + 2?', 'Describe the sea in one sentence.', 'Give me a tip for sleeping well.',
];
const preferences = ['concise', 'creative', 'uplifting'].map(paperPreference);

async function rssAfterGc(): Promise<number> {
  collectGarbage();
  await new Promise((resolve) => setTimeout(resolve, 50));
  collectGarbage();
  return process.memoryUsage.rss();
}

const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MB`;

let model: Model;
beforeAll(async () => {
  model = await loadModel({ path: await ensureFixtureModel(testModels[0].name), useMmap: false });
});
afterAll(async () => {
  await model?.dispose();
});

it(`${GENERATIONS} generations with random aborts on ${SESSIONS} sessions: RSS grows < 5% after warm-up`, async () => {
  // One generator per session, so each session's draws do not depend on timing.
  const draws = Array.from({ length: SESSIONS }, (_, index) => random({ s: seed + index }));
  const outcomes = new Map<string, number>();
  const count = (outcome: string): void => {
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  };
  const newSession = (index: number): Session => model.createSession({
    preferences: [preferences[index % preferences.length]], contextSize: 256, batchSize: 32, threads: concurrentThreads,
    contextOverflow: 'dropOldestTurns',
  });

  async function generate(session: Session, next: () => number): Promise<void> {
    const mode = Math.floor(next() * 5);
    const question = questions[Math.floor(next() * questions.length)];
    const maxTokens = 1 + Math.floor(next() * 10);
    const stopAfter = Math.floor(next() * 6);
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    if (mode === 3) timer = setTimeout(() => controller.abort(), Math.floor(next() * 40));
    const signal = mode === 4 ? AbortSignal.abort() : controller.signal;
    const stream = session.prompt(question, { maxTokens, signal });
    let chunks = 0;
    try {
      for await (const chunk of stream) {
        void chunk;
        chunks++;
        if (mode === 1 && chunks >= stopAfter) controller.abort();
        if (mode === 2 && chunks >= stopAfter) break;
      }
      await stream;
      count('completed');
    } catch (error) {
      if (!(error instanceof AmuletError)) throw error;
      count(error.code);
    } finally {
      clearTimeout(timer);
    }
  }

  const sessions = Array.from({ length: SESSIONS }, (_, index) => newSession(index));
  const turns = new Array<number>(SESSIONS).fill(0);
  let peakRss = 0;
  /** Runs `total` generations, spread over the sessions running concurrently. */
  async function run(total: number): Promise<void> {
    let left = total;
    await Promise.all(sessions.map(async (_, index) => {
      while (left > 0) {
        left--;
        // Now and then a session is replaced (before a prompt, so every live session has its context).
        if (++turns[index] % 25 === 0) {
          await sessions[index].dispose();
          sessions[index] = newSession(index);
        }
        await generate(sessions[index], draws[index]);
        peakRss = Math.max(peakRss, process.memoryUsage.rss());
      }
    }));
  }

  const start = performance.now();
  const samples: number[] = [];
  try {
    // Measured in the same state each time: three live sessions, idle, after a garbage collection.
    await run(WARM_UP);
    samples.push(await rssAfterGc());
    for (let done = WARM_UP; done < GENERATIONS; done += WARM_UP) {
      await run(Math.min(WARM_UP, GENERATIONS - done));
      samples.push(await rssAfterGc());
    }
  } finally {
    await Promise.all(sessions.map((session) => session.dispose()));
  }
  const warmRss = samples[0];
  const endRss = samples.at(-1)!;
  const seconds = (performance.now() - start) / 1000;
  const growth = (endRss - warmRss) / warmRss;
  console.log(`soak: ${GENERATIONS} generations on ${SESSIONS} sessions in ${seconds.toFixed(1)} s ` +
    `(seed ${seed}); outcomes ${[...outcomes].map(([outcome, n]) => `${outcome} ${n}`).join(', ')}; ` +
    `RSS after warm-up (${WARM_UP}) ${mb(warmRss)}, at the end ${mb(endRss)}, peak ${mb(peakRss)}, ` +
    `every ${WARM_UP}: ${samples.map(mb).join(', ')}; ` +
    `growth ${(growth * 100).toFixed(2)}%`);
  expect([...outcomes.values()].reduce((a, b) => a + b, 0)).toBe(GENERATIONS);
  expect(outcomes.get('completed') ?? 0).toBeGreaterThan(0);
  expect(outcomes.get('ERR_ABORTED') ?? 0).toBeGreaterThan(GENERATIONS / 4);
  expect(growth).toBeLessThan(0.05);
});
