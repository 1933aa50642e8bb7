/**
 * The degeneration measures of the evaluation (eval/degeneration.ts) on
 * constructed text: each expected value is counted by hand beside it.
 */
import { answerLanguage } from '../../eval/answer-language';
import {
  degenerationOf, echoShare, preferenceWords, repeatedTrigramShare, unknownWords,
} from '../../eval/degeneration';

const concise = 'Your answer should be concise as much as possible.';

describe('answer language', () => {
  it.each([
    ['The fridge keeps the food cold because it pumps the heat out of the box.', 'en'],
    ['Le réfrigérateur garde les aliments au froid parce qu\'il pompe la chaleur hors de la boîte.', 'fr'],
    ['Der Kühlschrank hält das Essen kalt, weil er die Wärme aus dem Kasten pumpt.', 'de'],
    ['El frigorífico mantiene la comida fría porque bombea el calor fuera de la caja.', 'es'],
    ['', 'en'],
    ['42 + 17 = 59', 'en'],
  ])('reads %j as %s', (text, language) => {
    expect(answerLanguage(text)).toBe(language);
  });
});

describe('invented words', () => {
  it('counts alphabetic words of four letters or more that the dictionary does not know', () => {
    // Checked: refrigerator, keeps, sociophantic, food, flurbish, cold (6; "The" has three letters, "42" none).
    const { checked, unknown } = unknownWords('The refrigerator keeps sociophantic food flurbish cold 42.', 'en');
    expect(checked).toBe(6);
    expect(unknown).toEqual(['sociophantic', 'flurbish']);
  });

  it('knows sentence-initial capitals and German compounds', () => {
    expect(unknownWords('Concise answers help.', 'en').unknown).toEqual([]);
    // "Kühlschrank" is Kühl + Schrank; the dictionary lists the parts.
    expect(unknownWords('Der Kühlschrank hält das Essen kalt.', 'de').unknown).toEqual([]);
    expect(unknownWords('Der Blorfschrank hält.', 'de').unknown).toEqual(['Blorfschrank']);
  });
});

describe('echo', () => {
  it("is the share of the answer's words that are content words of the preference", () => {
    // The template's function words (your, should, be, as, much) are not the preference's words.
    expect([...preferenceWords(concise)].sort()).toEqual(['answer', 'concise', 'possible']);
    // this, answer, is, concise, and, concise: answer + concise twice = 3 of 6.
    expect(echoShare('This answer is concise and concise.', concise)).toBeCloseTo(0.5, 12);
    expect(echoShare('Concisely put: yes.', concise)).toBe(0);
    expect(echoShare('', concise)).toBeNull();
  });
});

describe('repetition', () => {
  it('is the share of word 3-grams that occurred earlier in the answer', () => {
    // a b c a b c: trigrams "a b c", "b c a", "c a b", "a b c" (repeat) -> 1 of 4.
    expect(repeatedTrigramShare('a b c a b c')).toBeCloseTo(0.25, 12);
    // Case and punctuation do not hide a repeat: "go on now" twice among 4 trigrams.
    expect(repeatedTrigramShare('Go on now. go, on, now!')).toBeCloseTo(0.25, 12);
    expect(repeatedTrigramShare('one two three four')).toBe(0);
    expect(repeatedTrigramShare('one two')).toBe(0);
  });
});

describe('degenerationOf', () => {
  it('puts the measures of one answer together', () => {
    const score = degenerationOf('Concise concise concise: the fridge is cold.', concise);
    // concise x3, the, fridge, is, cold: 3 of 7 words echo; checked: Concise, concise, concise, fridge, cold.
    expect(score).toMatchObject({ language: 'en', checkedWords: 5, unknownWords: 0, inventedWords: 0 });
    expect(score.echo).toBeCloseTo(3 / 7, 12);
    expect(score.repetition).toBe(0);
    expect(degenerationOf('Plain answer.', null).echo).toBeNull();
    expect(degenerationOf('', null).inventedWords).toBeNull();
  });
});
