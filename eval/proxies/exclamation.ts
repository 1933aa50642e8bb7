/**
 * Enthusiasm proxy: exclamation marks per 100 words. Excited, enthusiastic
 * writing exclaims; neutral expository text almost never does. A run of
 * marks ("!!!") counts once, so punctuation piled on one sentence does not
 * outweigh exclaiming in many.
 *
 * @packageDocumentation
 */
import { wordCount } from './length';

/** Runs of exclamation marks per 100 words; 0 for a text without words. */
export function exclamationRate(text: string): number {
  const count = wordCount(text);
  return count === 0 ? 0 : (100 * (text.match(/[!¡]+/gu)?.length ?? 0)) / count;
}
