/**
 * Counting the phrases of a lexicon in a text, per 100 words: what the
 * flattery and pirate proxies share. Matching is case-insensitive, on whole
 * words, longest phrase first (a phrase's words are not counted again on
 * their own), with ’ read as '.
 *
 * @packageDocumentation
 */
import { wordCount } from './length';

function escape(phrase: string): string {
  return phrase.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A matcher of `phrases`: their occurrences in a text, and their rate per 100 words. */
export interface LexiconMatcher {
  matches(text: string): string[];
  ratePer100Words(text: string): number;
}

export function lexiconMatcher(phrases: readonly string[]): LexiconMatcher {
  // Longest first, so that "great question" wins over any shorter match at the same place.
  const pattern = new RegExp(`\\b(?:${[...phrases].sort((a, b) => b.length - a.length).map(escape).join('|')})\\b`, 'giu');
  const matches = (text: string): string[] => text.replace(/’/g, "'").match(pattern) ?? [];
  return {
    matches,
    ratePer100Words: (text) => {
      const count = wordCount(text);
      return count === 0 ? 0 : (100 * matches(text).length) / count;
    },
  };
}
