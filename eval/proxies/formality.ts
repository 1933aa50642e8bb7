/**
 * Formality proxy of `formal`: the F-score of Heylighen & Dewaele (1999),
 *
 *   F = (noun% + adjective% + preposition% + article% − pronoun% − verb% − adverb% − interjection% + 100) / 2
 *
 * with each part of speech as a percentage of all words. Formal, "context
 * independent" text is dense in nouns, adjectives and prepositions; deictic,
 * conversational text in pronouns, verbs, adverbs and interjections. 50 is
 * neutral; higher is more formal. Parts of speech come from the `compromise`
 * tagger (its `Expression` tag stands for interjections); articles are the
 * determiners a, an and the.
 *
 * @packageDocumentation
 */
import nlp from 'compromise';

const ARTICLES = new Set(['a', 'an', 'the']);

/** Per-category word counts the F-score is built from (exported for tests and the report). */
export interface PartOfSpeechCounts {
  words: number;
  nouns: number;
  adjectives: number;
  prepositions: number;
  articles: number;
  pronouns: number;
  verbs: number;
  adverbs: number;
  interjections: number;
}

/** Tags every word of `text` and counts the categories of the F-score. */
export function partOfSpeechCounts(text: string): PartOfSpeechCounts {
  const counts: PartOfSpeechCounts = {
    words: 0, nouns: 0, adjectives: 0, prepositions: 0, articles: 0, pronouns: 0, verbs: 0, adverbs: 0, interjections: 0,
  };
  for (const sentence of nlp(text).json() as { terms: { text: string; tags: string[] }[] }[]) {
    for (const term of sentence.terms) {
      if (!/[\p{L}\p{N}]/u.test(term.text)) continue;
      counts.words += 1;
      const tags = new Set(term.tags);
      // A pronoun is tagged Noun too: it counts as a pronoun only.
      if (tags.has('Pronoun')) counts.pronouns += 1;
      else if (tags.has('Noun')) counts.nouns += 1;
      else if (tags.has('Adjective')) counts.adjectives += 1;
      else if (tags.has('Preposition')) counts.prepositions += 1;
      else if (tags.has('Determiner') && ARTICLES.has(term.text.toLowerCase())) counts.articles += 1;
      else if (tags.has('Verb')) counts.verbs += 1;
      else if (tags.has('Adverb')) counts.adverbs += 1;
      else if (tags.has('Expression')) counts.interjections += 1;
    }
  }
  return counts;
}

/** The F-score from counts; 50 (neutral) when there are no words. */
export function formalityFromCounts(counts: PartOfSpeechCounts): number {
  if (counts.words === 0) return 50;
  const percent = (n: number): number => (100 * n) / counts.words;
  return (percent(counts.nouns) + percent(counts.adjectives) + percent(counts.prepositions) + percent(counts.articles)
    - percent(counts.pronouns) - percent(counts.verbs) - percent(counts.adverbs) - percent(counts.interjections)
    + 100) / 2;
}

/** Heylighen–Dewaele F-score of `text` (0 to 100, higher is more formal). */
export function formalityScore(text: string): number {
  return formalityFromCounts(partOfSpeechCounts(text));
}
