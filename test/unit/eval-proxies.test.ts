/**
 * The evaluation proxies on hand-written examples: each formula's value is
 * worked out by hand in the comment beside it.
 */
import { movingAverageTypeTokenRatio } from '../../eval/proxies/diversity';
import { exclamationRate } from '../../eval/proxies/exclamation';
import { functionWordShare } from '../../eval/proxies/language';
import { headingCount, lineCount, listItemShare } from '../../eval/proxies/layout';
import { pirateMatches, pirateRate } from '../../eval/proxies/pirate';
import { flatteryMatches, flatteryRate } from '../../eval/proxies/flattery';
import { formalityFromCounts, formalityScore, partOfSpeechCounts } from '../../eval/proxies/formality';
import { measureAll, preferenceProxies } from '../../eval/proxies/index';
import { wordCount } from '../../eval/proxies/length';
import { fleschKincaidGrade, syllableCount } from '../../eval/proxies/readability';
import { emotionPerWord, sentimentPerWord } from '../../eval/proxies/sentiment';
import { sentences, words } from '../../eval/proxies/words';

describe('words and sentences', () => {
  it('counts words with inner apostrophes and hyphens as one', () => {
    expect(words("Don't panic: it's a well-known fact, 42 times.")).toEqual(
      ["Don't", 'panic', "it's", 'a', 'well-known', 'fact', '42', 'times']);
    expect(wordCount('')).toBe(0);
    expect(wordCount('  ...  ')).toBe(0);
  });

  it('splits sentences at end punctuation and line breaks', () => {
    expect(sentences('One. Two! Three?\n- four\n\n')).toEqual(['One.', 'Two!', 'Three?', '- four']);
  });
});

describe('sentiment (AFINN-165 per word)', () => {
  it('scores valence per word', () => {
    // love +3, wonderful +4 over 5 words.
    expect(sentimentPerWord('I love this wonderful day')).toBeCloseTo(7 / 5);
    // terrible -3, sad -2 over 5 words.
    expect(sentimentPerWord('This is terrible and sad')).toBeCloseTo(-5 / 5);
    expect(sentimentPerWord('The table is brown')).toBe(0);
    expect(sentimentPerWord('')).toBe(0);
  });
});

describe('formality (Heylighen–Dewaele F-score)', () => {
  it('computes F from part-of-speech percentages', () => {
    // 2 nouns + 2 articles - 1 verb over 5 words: (40 + 40 - 20 + 100) / 2 = 80.
    expect(formalityFromCounts({ words: 5, nouns: 2, adjectives: 0, prepositions: 0, articles: 2, pronouns: 0,
      verbs: 1, adverbs: 0, interjections: 0 })).toBeCloseTo(80);
    expect(formalityFromCounts({ words: 0, nouns: 0, adjectives: 0, prepositions: 0, articles: 0, pronouns: 0,
      verbs: 0, adverbs: 0, interjections: 0 })).toBe(50);
  });

  it('tags a formal and a conversational sentence', () => {
    expect(partOfSpeechCounts('The committee approved the proposal.')).toMatchObject(
      { words: 5, nouns: 2, articles: 2, verbs: 1 });
    expect(formalityScore('The committee approved the proposal.')).toBeCloseTo(80);
    // Wow (interjection), I/you (pronouns), really (adverb), think/should/go (verbs):
    // (0 - (2 + 3 + 1 + 1) / 7 * 100 + 100) / 2 = 0.
    expect(formalityScore('Wow, I really think you should go!')).toBeCloseTo(0);
  });
});

describe('readability (Flesch–Kincaid grade)', () => {
  it.each([
    ['cat', 1], ['the', 1], ['make', 1], ['table', 2], ['yellow', 2], ['jumped', 1], ['wanted', 2],
    ['boxes', 2], ['beautiful', 3], ['syllable', 3], ['readability', 5],
  ])('counts the syllables of %s as %d', (word, count) => {
    expect(syllableCount(word)).toBe(count);
  });

  it('grades short simple sentences low and long technical ones high', () => {
    // 6 words, 1 sentence, 6 syllables: 0.39 * 6 + 11.8 * 1 - 15.59 = -1.45.
    expect(fleschKincaidGrade('The cat sat on the mat.')).toBeCloseTo(-1.45);
    expect(fleschKincaidGrade('Notwithstanding considerable institutional opposition, the administration ' +
      'implemented comprehensive regulatory modifications.')).toBeGreaterThan(20);
    expect(fleschKincaidGrade('')).toBe(0);
  });
});

describe('lexical diversity (MATTR)', () => {
  it('averages the type-token ratio over sliding windows', () => {
    // Shorter than the window: the plain ratio, 2 types / 4 tokens.
    expect(movingAverageTypeTokenRatio('a b a b')).toBeCloseTo(0.5);
    // Windows of 2 over "a b c a": {a,b} {b,c} {c,a}: all 1.
    expect(movingAverageTypeTokenRatio('a b c a', 2)).toBe(1);
    // Windows of 2 over "a a b b": 1/2, 2/2, 1/2: mean 2/3.
    expect(movingAverageTypeTokenRatio('a a b b', 2)).toBeCloseTo(2 / 3);
    expect(movingAverageTypeTokenRatio('A a')).toBeCloseTo(0.5);
    expect(movingAverageTypeTokenRatio('')).toBe(0);
  });
});

describe('flattery (phrases per 100 words)', () => {
  it('counts praise phrases, longest first, ignoring case and curly apostrophes', () => {
    expect(flatteryMatches('Great question! You’re absolutely right, brilliant.')).toEqual(
      ['Great question', 'You\'re absolutely right', 'brilliant']);
    // 2 phrases over 4 words.
    expect(flatteryRate('Great question. Great question.')).toBe(50);
    expect(flatteryRate('Boil the egg for nine minutes.')).toBe(0);
  });
});

describe('layout (lists, headings, lines)', () => {
  const markdown = '## Steps\n\n- Boil water.\n- Add the egg.\n1. Wait nine minutes.\n\nServe it warm.';
  it('counts list items, headings and non-empty lines', () => {
    // 5 non-empty lines, 3 of them list items; 1 heading.
    expect(listItemShare(markdown)).toBeCloseTo(3 / 5);
    expect(headingCount(markdown)).toBe(1);
    expect(lineCount(markdown)).toBe(5);
    expect(lineCount('One paragraph. Two sentences.')).toBe(1);
    expect(headingCount('#hashtag is not a heading')).toBe(0);
    expect(listItemShare('-5 degrees is cold')).toBe(0);
    expect(listItemShare('')).toBe(0);
  });
});

describe('language (function-word share)', () => {
  it('tells French and Spanish from English', () => {
    const english = 'Put the egg in a pot of cold water and bring it to the boil.';
    // French: "mettez l'oeuf dans une casserole d'eau froide et portez-la à ébullition".
    const french = "Mettez l'œuf dans une casserole d'eau froide et portez la casserole à ébullition.";
    const spanish = 'Pon el huevo en una olla con agua fría y lleva el agua a ebullición.';
    expect(functionWordShare(english, 'french')).toBeLessThan(0.15);
    expect(functionWordShare(english, 'spanish')).toBeLessThan(0.15);
    expect(functionWordShare(french, 'french')).toBeGreaterThan(0.3);
    expect(functionWordShare(spanish, 'spanish')).toBeGreaterThan(0.3);
    expect(functionWordShare('', 'french')).toBe(0);
  });
});

describe('persona, enthusiasm and emotion', () => {
  it('counts pirate phrases per 100 words', () => {
    expect(pirateMatches('Ahoy, matey! Shiver me timbers, ye scallywag.')).toEqual(
      ['Ahoy', 'matey', 'Shiver me timbers', 'ye', 'scallywag']);
    // 2 phrases over 4 words.
    expect(pirateRate('Arr, ye landlubber there')).toBe(75);
    expect(pirateRate('Boil the egg.')).toBe(0);
  });

  it('counts runs of exclamation marks per 100 words', () => {
    // Two runs over 4 words.
    expect(exclamationRate('Wow!!! This is great!')).toBe(50);
    expect(exclamationRate('Plain text.')).toBe(0);
  });

  it('sums the magnitude of rated words per word, positive or negative', () => {
    // love +3, terrible -3 over 6 words: 6 / 6.
    expect(emotionPerWord('I love it but terrible weather')).toBeCloseTo(1);
    expect(sentimentPerWord('I love it but terrible weather')).toBeCloseTo(0);
    expect(emotionPerWord('The table is brown')).toBe(0);
  });
});

describe('preference mapping', () => {
  it('maps every built-in preference to a proxy and direction', () => {
    expect(Object.keys(preferenceProxies)).toHaveLength(20);
    expect(preferenceProxies.concise).toEqual({ proxy: 'words', direction: 'lower' });
    expect(preferenceProxies.verbose).toEqual({ proxy: 'words', direction: 'higher' });
    expect(preferenceProxies.child).toEqual({ proxy: 'grade', direction: 'lower' });
    expect(Object.keys(measureAll('Hello there.')).sort()).toEqual(['diversity', 'emotion', 'exclamations', 'flattery',
      'formality', 'french', 'grade', 'headings', 'lines', 'listShare', 'pirate', 'sentiment', 'spanish', 'words']);
  });
});
