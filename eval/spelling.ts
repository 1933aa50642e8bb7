/**
 * Whether a word is a word of a language: Hunspell dictionaries (the
 * `dictionary-en`, `-fr`, `-de` and `-es` packages, LibreOffice's lists)
 * read by `nspell`. Each dictionary is loaded on first use and kept (French
 * takes about 12 s and 600 MB, the others 0.4 to 3 s).
 *
 * A word counts as known when the dictionary accepts it as written, in lower
 * case or capitalised (sentence starts, German nouns). German writes
 * compounds as one word, which the dictionary lists only in part, so a
 * German word is also known when it splits into two known words of three
 * letters or more, with or without a linking "s" ("Kühlschrank",
 * "Arbeitszeit").
 *
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import nspell from 'nspell';
import type { AnswerLanguage } from './answer-language';

type Speller = ReturnType<typeof nspell>;

const spellers = new Map<AnswerLanguage, Speller>();

function speller(language: AnswerLanguage): Speller {
  let loaded = spellers.get(language);
  if (!loaded) {
    // The packages are ES modules that read these two files; reading them here keeps the harness CommonJS.
    const folder = dirname(require.resolve(`dictionary-${language}`));
    loaded = nspell(readFileSync(join(folder, 'index.aff')), readFileSync(join(folder, 'index.dic')));
    spellers.set(language, loaded);
  }
  return loaded;
}

function capitalised(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

function knownAsWritten(check: Speller, word: string): boolean {
  const lower = word.toLowerCase();
  return check.correct(word) || check.correct(lower) || check.correct(capitalised(lower));
}

const COMPOUND_PART = 3;

function knownCompound(check: Speller, word: string): boolean {
  for (let cut = COMPOUND_PART; cut <= word.length - COMPOUND_PART; cut++) {
    const head = word.slice(0, cut);
    const tail = word.slice(cut);
    if (!knownAsWritten(check, tail)) continue;
    if (knownAsWritten(check, head)) return true;
    if (head.endsWith('s') && head.length > COMPOUND_PART && knownAsWritten(check, head.slice(0, -1))) return true;
  }
  return false;
}

/** Whether `word` (letters only) is a word of `language`. */
export function isKnownWord(word: string, language: AnswerLanguage): boolean {
  const check = speller(language);
  return knownAsWritten(check, word) || (language === 'de' && knownCompound(check, word));
}
