/**
 * The evaluation proxies on hand-written examples: each formula's value is
 * worked out by hand in the comment beside it.
 */
import { movingAverageTypeTokenRatio } from '../../eval/proxies/diversity';
import { flatteryMatches, flatteryRate } from '../../eval/proxies/flattery';
import { formalityFromCounts, formalityScore, partOfSpeechCounts } from '../../eval/proxies/formality';
import { measureAll, preferenceProxies } from '../../eval/proxies/index';
import { wordCount } from '../../eval/proxies/length';
import { fleschKincaidGrade, syllableCount } from '../../eval/proxies/readability';
import { sentimentPerWord } from '../../eval/proxies/sentiment';
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

describe('preference mapping', () => {
  it('maps each of the paper\'s eight preferences to a proxy and direction', () => {
    expect(Object.keys(preferenceProxies).sort()).toEqual(
      ['complex', 'concise', 'creative', 'formal', 'pleasant', 'sycophantic', 'uplifting', 'verbose']);
    expect(preferenceProxies.concise).toEqual({ proxy: 'words', direction: 'lower' });
    expect(preferenceProxies.verbose).toEqual({ proxy: 'words', direction: 'higher' });
    expect(Object.keys(measureAll('Hello there.')).sort()).toEqual(
      ['diversity', 'flattery', 'formality', 'grade', 'sentiment', 'words']);
  });
});
