/**
 * Sentiment proxies, from the AFINN-165 lexicon (words rated from −5 to +5,
 * with negation handling) of the `sentiment` package, divided by the number
 * of words, so that a long answer does not win by length alone:
 * - valence per word, for `uplifting` and `pleasant`: about −1 to +1 in
 *   practice, 0 is neutral;
 * - emotion per word, for `neutral`: the summed magnitude of the rated words,
 *   positive or negative, 0 for text without emotional words.
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

/** Summed |AFINN-165 rating| of the rated words, per word; 0 for a text without words. */
export function emotionPerWord(text: string): number {
  const count = wordCount(text);
  if (count === 0) return 0;
  const rated = analyzer.analyze(text).calculation as Record<string, number>[];
  const magnitude = rated.reduce((sum, entry) => sum + Object.values(entry).reduce((a, b) => a + Math.abs(b), 0), 0);
  return magnitude / count;
}
