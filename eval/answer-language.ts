/**
 * The language of an answer, among those the spelling check has dictionaries
 * for: the one whose function words (the `stopword` package's lists) make up
 * the largest share of the answer's words. Function words are a third to a
 * half of running text in each of these languages and few are shared, so a
 * few sentences decide it; it needs no model of its own and no dictionary
 * (the dictionaries judge the words, so they do not also pick the language).
 *
 * @packageDocumentation
 */
import { deu, eng, fra, spa } from 'stopword';

/** A language the degeneration measures have a dictionary for (ISO 639-1). */
export type AnswerLanguage = 'en' | 'fr' | 'de' | 'es';

export const answerLanguages: readonly AnswerLanguage[] = ['en', 'fr', 'de', 'es'];

const FUNCTION_WORDS: Readonly<Record<AnswerLanguage, ReadonlySet<string>>> = {
  en: new Set(eng),
  fr: new Set(fra),
  de: new Set(deu),
  es: new Set(spa),
};

const LETTERS = /\p{L}+/gu;

/** The answer's language; English when no language's function words occur (empty text, code, a list of names). */
export function answerLanguage(text: string): AnswerLanguage {
  const found = text.toLowerCase().match(LETTERS) ?? [];
  let best: AnswerLanguage = 'en';
  let bestCount = 0;
  for (const language of answerLanguages) {
    const list = FUNCTION_WORDS[language];
    const count = found.filter((word) => list.has(word)).length;
    if (count > bestCount) {
      best = language;
      bestCount = count;
    }
  }
  return best;
}
