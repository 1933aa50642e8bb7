/**
 * Sentiment proxy of `uplifting` and `pleasant`: the AFINN-165 lexicon score
 * (words rated from −5 to +5, with negation handling) of the `sentiment`
 * package, divided by the number of words, so that a long answer does not win
 * by length alone. Range in practice about −1 to +1; 0 is neutral.
 *
 * @packageDocumentation
 */
import Sentiment from 'sentiment';
import { wordCount } from './length';

const analyzer = new Sentiment();

/** AFINN-165 valence points per word; 0 for a text without words. */
export function sentimentPerWord(text: string): number {
  const count = wordCount(text);
  return count === 0 ? 0 : analyzer.analyze(text).score / count;
}
