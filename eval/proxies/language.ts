/**
 * Language proxies of "answer in French / Spanish": the share of an answer's
 * words that are function words of that language, from the `stopword`
 * package's lists. Function words make up roughly a third to a half of
 * running text in any language, and few of them are shared with English
 * ("a" is one), so an English answer scores near 0.05 and one in the
 * language near 0.3 or more. 0 to 1; higher is more of that language. Words
 * are split at apostrophes, so French elisions ("l'eau", "d'un") count their
 * article.
 *
 * @packageDocumentation
 */
import { fra, spa } from 'stopword';

/** The languages a preference of the extended set asks for. */
export type ProxyLanguage = 'french' | 'spanish';

const FUNCTION_WORDS: Readonly<Record<ProxyLanguage, ReadonlySet<string>>> = {
  french: new Set(fra),
  spanish: new Set(spa),
};

const LETTERS = /\p{L}+/gu;

/** Share of the words of `text` that are function words of `language`; 0 without words. */
export function functionWordShare(text: string, language: ProxyLanguage): number {
  const found = text.toLowerCase().match(LETTERS) ?? [];
  if (found.length === 0) return 0;
  const list = FUNCTION_WORDS[language];
  return found.filter((word) => list.has(word)).length / found.length;
}
