/**
 * Degeneration of an answer, measured on its text rather than by how likely
 * a model finds it (text that follows a preference is unlikely under a
 * prompt without it, so a plain-prompt NLL cannot tell following from
 * breaking down):
 * - invented words: the share of the answer's alphabetic words of four
 *   letters or more that the dictionary of the answer's language does not
 *   know (eval/spelling.ts; the language from eval/answer-language.ts). Code,
 *   names and rare terms count as unknown too, for every variant alike, so
 *   the measure compares variants on the same questions rather than
 *   standing on its own;
 * - echo: the share of the answer's words that are content words of the
 *   preference text (its words without the function words of English,
 *   French, German and Spanish), compared in lower case as written, so that
 *   "concise" counts and "concisely" does not: the preference named instead
 *   of followed;
 * - repetition: the share of the answer's word 3-grams (in lower case) that
 *   already occurred earlier in it: loops and pasted fragments.
 *
 * @packageDocumentation
 */
import { deu, eng, fra, spa } from 'stopword';
import { answerLanguage, type AnswerLanguage } from './answer-language';
import { words } from './proxies/words';
import { isKnownWord } from './spelling';

/** The degeneration measures of one answer (stored with it in responses.jsonl). */
export interface DegenerationScore {
  language: AnswerLanguage;
  /** Alphabetic words of 4+ letters that the spelling check read. */
  checkedWords: number;
  /** Of those, how many no dictionary of the language knows. */
  unknownWords: number;
  /** unknownWords / checkedWords (0–1); null without a checked word. */
  inventedWords: number | null;
  /** Share of the answer's words that are content words of the preference (0–1); null without a preference or words. */
  echo: number | null;
  /** Share of the answer's word 3-grams that repeat an earlier one (0–1); 0 below three words. */
  repetition: number;
}

const MIN_CHECKED_LETTERS = 4;
const LETTER_RUN = /\p{L}+/gu;
const FUNCTION_WORDS: ReadonlySet<string> = new Set([...eng, ...fra, ...deu, ...spa]);

/** The content words of a preference text, in lower case. */
export function preferenceWords(preferenceText: string): Set<string> {
  return new Set(words(preferenceText.toLowerCase()).filter((word) => !FUNCTION_WORDS.has(word)));
}

/** Share of the words of `text` that are content words of `preferenceText`; null when `text` has no word. */
export function echoShare(text: string, preferenceText: string): number | null {
  const found = words(text.toLowerCase());
  if (found.length === 0) return null;
  const echoed = preferenceWords(preferenceText);
  return found.filter((word) => echoed.has(word)).length / found.length;
}

/** Share of the word 3-grams of `text` that occurred earlier in it; 0 below three words. */
export function repeatedTrigramShare(text: string): number {
  const found = words(text.toLowerCase());
  if (found.length < 3) return 0;
  const seen = new Set<string>();
  let repeated = 0;
  for (let i = 0; i + 3 <= found.length; i++) {
    const trigram = `${found[i]} ${found[i + 1]} ${found[i + 2]}`;
    if (seen.has(trigram)) repeated++;
    else seen.add(trigram);
  }
  return repeated / (found.length - 2);
}

/** The unknown words of 4+ letters of `text` in `language`, and how many were checked. */
export function unknownWords(text: string, language: AnswerLanguage): { checked: number; unknown: string[] } {
  const checked = (text.match(LETTER_RUN) ?? []).filter((word) => [...word].length >= MIN_CHECKED_LETTERS);
  return { checked: checked.length, unknown: checked.filter((word) => !isKnownWord(word, language)) };
}

/** The degeneration measures of one answer; `preferenceText` is null for a `base` answer. */
export function degenerationOf(text: string, preferenceText: string | null): DegenerationScore {
  const language = answerLanguage(text);
  const { checked, unknown } = unknownWords(text, language);
  return {
    language,
    checkedWords: checked,
    unknownWords: unknown.length,
    inventedWords: checked === 0 ? null : unknown.length / checked,
    echo: preferenceText === null ? null : echoShare(text, preferenceText),
    repetition: repeatedTrigramShare(text),
  };
}
