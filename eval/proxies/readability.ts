/**
 * Readability proxy of `complex`: the Flesch–Kincaid grade level (Kincaid et
 * al., 1975), the US school grade a reader needs:
 *
 *   grade = 0.39 × words / sentences + 11.8 × syllables / words − 15.59
 *
 * Longer sentences and longer words give a higher grade. Syllables are
 * counted by the vowel-group rule below: the maintained npm counters
 * (`syllable`, `text-readability`) are ES modules only, which this CommonJS
 * package cannot load from Node 20's `require`. The rule is right for most
 * English words and off by one on some (e.g. "create"); a grade level is a
 * coarse measure anyway.
 *
 * @packageDocumentation
 */
import { sentences, words } from './words';

/**
 * Syllables of one English word: groups of vowels (y counts as a vowel after
 * the first letter), less a silent final "e" (but not "-le" after a
 * consonant, as in "table"), less a silent "-ed" (not after t or d: "wanted") or "-es" (not after a
 * sibilant: "boxes", "wishes"); at least 1.
 */
export function syllableCount(word: string): number {
  const lower = word.toLowerCase().replace(/[^a-z]/g, '');
  if (lower.length === 0) return 0;
  if (lower.length <= 3) return 1;
  let stem = lower;
  if (/[^aeiouy]e$/.test(stem) && !/[^aeiouy]le$/.test(stem)) stem = stem.slice(0, -1);
  else if (/[^aeiouytd]ed$/.test(stem) || /[^aeiouysxzcgh]es$/.test(stem)) stem = stem.slice(0, -2);
  const groups = stem.match(/^y|[aeiouy]+/g)?.length ?? 0;
  // A leading "y" followed by a vowel is a consonant ("yes", "yellow").
  const leadingY = /^y[aeiou]/.test(stem) ? 1 : 0;
  return Math.max(1, groups - leadingY);
}

/** Flesch–Kincaid grade level; 0 for a text without words. */
export function fleschKincaidGrade(text: string): number {
  const all = words(text);
  if (all.length === 0) return 0;
  const sentenceCount = Math.max(1, sentences(text).length);
  const syllables = all.reduce((sum, word) => sum + syllableCount(word), 0);
  return 0.39 * (all.length / sentenceCount) + 11.8 * (syllables / all.length) - 15.59;
}
