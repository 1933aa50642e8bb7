/**
 * Event-loop lag: decoding runs on native threads, so the JavaScript thread
 * stays free while a model loads and while generations stream. Measured with
 * perf_hooks.monitorEventLoopDelay (1 ms resolution); prints p50, p99 and
 * max, and holds streaming to a p99 lag under 20 ms.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { loadModel, type Model } from '../../../lib/index';
import { ensureFixtureModel } from '../../support/fixtures';
import { concurrentThreads, paperPreference, testModels } from '../../support/models';

const ms = (nanoseconds: number): number => nanoseconds / 1e6;

function describeLag(histogram: IntervalHistogram): string {
  return `p50 ${ms(histogram.percentile(50)).toFixed(2)} ms, p99 ${ms(histogram.percentile(99)).toFixed(2)} ms, ` +
    `max ${ms(histogram.max).toFixed(2)} ms over ${histogram.count} samples`;
}

async function measure<T>(work: () => Promise<T>): Promise<{ histogram: IntervalHistogram; value: T }> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  try {
    return { histogram, value: await work() };
  } finally {
    histogram.disable();
  }
}

let model: Model;
afterAll(async () => {
  await model?.dispose();
});

it('loading a model and streaming generations leave the event loop free (p99 lag < 20 ms while streaming)', async () => {
  const path = await ensureFixtureModel(testModels[0].name);
  const idle = await measure(() => new Promise((resolve) => setTimeout(resolve, 500)));
  const load = await measure(() => loadModel({ path, onProgress: () => undefined }));
  model = load.value;
  const sessions = [paperPreference('concise'), paperPreference('creative')].map((preference) =>
    model.createSession({ preferences: [preference], contextSize: 512, threads: concurrentThreads }));
  try {
    const streaming = await measure(() => Promise.all(sessions.map(async (session) => {
      let tokens = 0;
      for (const question of ['Write a long story about a lighthouse keeper.', 'Now tell it again, differently.']) {
        for await (const chunk of session.prompt(question, { maxTokens: 96 })) tokens += chunk.tokens.length;
      }
      return tokens;
    })));
    const tokens = streaming.value.reduce((a, b) => a + b, 0);
    console.log(`event-loop lag, idle: ${describeLag(idle.histogram)}\n` +
      `event-loop lag, loading the model: ${describeLag(load.histogram)}\n` +
      `event-loop lag, two sessions streaming ${tokens} tokens: ${describeLag(streaming.histogram)}`);
    expect(tokens).toBeGreaterThan(100);
    expect(ms(streaming.histogram.percentile(99))).toBeLessThan(20);
  } finally {
    await Promise.all(sessions.map((session) => session.dispose()));
  }
});
