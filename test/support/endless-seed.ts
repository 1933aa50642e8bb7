/**
 * Generations that cannot end by themselves, for tests that must act while
 * one still runs (a disconnect, a Ctrl-C, a full queue).
 */
import type { Model } from '../../lib/index';
import { testThreads } from './models';

/** The temperature of {@link endlessSeed}'s generations. */
export const ENDLESS_TEMPERATURE = 1e30;

/**
 * At a temperature of 1e30 every logit divided by it is below 1e-28, so each
 * exp() in llama.cpp's dist sampler is exactly 1: every token is equally
 * likely, whatever the model computed, and the tokens drawn depend on the
 * seed alone, not on the CPU, the prompt or the cache. A seed that draws no
 * end-of-generation token within `tokens` tokens here does so in every
 * generation at that temperature on this model, which then runs until its
 * budget is spent or it is stopped.
 */
export async function endlessSeed(model: Model, tokens: number): Promise<number> {
  const session = model.createSession({ threads: testThreads, contextSize: 1024, method: 'base' });
  try {
    for (let seed = 1; ; seed += 1) {
      session.clearHistory();
      const result = await session.prompt('Go.', {
        method: 'base', maxTokens: tokens, sampling: { temperature: ENDLESS_TEMPERATURE, seed },
      });
      if (result.finishReason === 'maxTokens') return seed;
    }
  } finally {
    await session.dispose();
  }
}
