/**
 * The measurable proxies: what each is, its unit, and which preference it
 * stands for and in which direction.
 *
 * @packageDocumentation
 */
import { movingAverageTypeTokenRatio } from './diversity';
import { exclamationRate } from './exclamation';
import { flatteryRate } from './flattery';
import { formalityScore } from './formality';
import { functionWordShare } from './language';
import { headingCount, lineCount, listItemShare } from './layout';
import { wordCount } from './length';
import { pirateRate } from './pirate';
import { fleschKincaidGrade } from './readability';
import { emotionPerWord, sentimentPerWord } from './sentiment';

/** The name of a proxy. */
export type ProxyName = 'words' | 'sentiment' | 'formality' | 'grade' | 'diversity' | 'flattery' | 'listShare' |
  'headings' | 'lines' | 'french' | 'spanish' | 'pirate' | 'exclamations' | 'emotion';

/** A proxy: a formula on the answer text. */
export interface Proxy {
  name: ProxyName;
  /** What it measures, with its unit, for the report. */
  description: string;
  measure: (text: string) => number;
}

export const proxies: Readonly<Record<ProxyName, Proxy>> = Object.freeze({
  words: { name: 'words', description: 'length in words', measure: wordCount },
  sentiment: { name: 'sentiment', description: 'AFINN-165 valence per word', measure: sentimentPerWord },
  formality: { name: 'formality', description: 'Heylighen–Dewaele F-score (0–100)', measure: formalityScore },
  grade: { name: 'grade', description: 'Flesch–Kincaid grade level', measure: fleschKincaidGrade },
  diversity: { name: 'diversity', description: 'moving-average type–token ratio (0–1)', measure: movingAverageTypeTokenRatio },
  flattery: { name: 'flattery', description: 'praise/flattery phrases per 100 words', measure: flatteryRate },
  listShare: { name: 'listShare', description: 'share of non-empty lines that are list items (0–1)', measure: listItemShare },
  headings: { name: 'headings', description: 'Markdown heading lines', measure: headingCount },
  lines: { name: 'lines', description: 'non-empty lines (1 = a single paragraph)', measure: lineCount },
  french: { name: 'french', description: 'share of words that are French function words (0–1)',
    measure: (text) => functionWordShare(text, 'french') },
  spanish: { name: 'spanish', description: 'share of words that are Spanish function words (0–1)',
    measure: (text) => functionWordShare(text, 'spanish') },
  pirate: { name: 'pirate', description: 'pirate-speech words per 100 words', measure: pirateRate },
  exclamations: { name: 'exclamations', description: 'exclamations per 100 words', measure: exclamationRate },
  emotion: { name: 'emotion', description: 'AFINN-165 |valence| per word', measure: emotionPerWord },
});

/** The proxy that stands for a preference, and whether higher or lower values follow it better. */
export interface PreferenceProxy {
  proxy: ProxyName;
  direction: 'higher' | 'lower';
}

/**
 * The proxy of every built-in preference (the paper's eight and the extended
 * set); a custom preference has no proxy unless its name is one of these.
 */
export const preferenceProxies: Readonly<Record<string, PreferenceProxy>> = Object.freeze({
  // The paper's eight.
  concise: { proxy: 'words', direction: 'lower' },
  verbose: { proxy: 'words', direction: 'higher' },
  uplifting: { proxy: 'sentiment', direction: 'higher' },
  pleasant: { proxy: 'sentiment', direction: 'higher' },
  formal: { proxy: 'formality', direction: 'higher' },
  complex: { proxy: 'grade', direction: 'higher' },
  creative: { proxy: 'diversity', direction: 'higher' },
  sycophantic: { proxy: 'flattery', direction: 'higher' },
  // The extended set.
  bullets: { proxy: 'listShare', direction: 'higher' },
  headings: { proxy: 'headings', direction: 'higher' },
  'one-paragraph': { proxy: 'lines', direction: 'lower' },
  french: { proxy: 'french', direction: 'higher' },
  spanish: { proxy: 'spanish', direction: 'higher' },
  pirate: { proxy: 'pirate', direction: 'higher' },
  child: { proxy: 'grade', direction: 'lower' },
  expert: { proxy: 'grade', direction: 'higher' },
  enthusiastic: { proxy: 'exclamations', direction: 'higher' },
  neutral: { proxy: 'emotion', direction: 'lower' },
  short: { proxy: 'words', direction: 'lower' },
  long: { proxy: 'words', direction: 'higher' },
});

/** Every proxy of one answer. */
export function measureAll(text: string): Record<ProxyName, number> {
  const values = {} as Record<ProxyName, number>;
  for (const proxy of Object.values(proxies)) values[proxy.name] = proxy.measure(text);
  return values;
}
