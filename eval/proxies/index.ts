/**
 * The measurable proxies: what each is, its unit, and which preference it
 * stands for and in which direction.
 *
 * @packageDocumentation
 */
import { movingAverageTypeTokenRatio } from './diversity';
import { flatteryRate } from './flattery';
import { formalityScore } from './formality';
import { wordCount } from './length';
import { fleschKincaidGrade } from './readability';
import { sentimentPerWord } from './sentiment';

/** The name of a proxy. */
export type ProxyName = 'words' | 'sentiment' | 'formality' | 'grade' | 'diversity' | 'flattery';

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
});

/** The proxy that stands for a preference, and whether higher or lower values follow it better. */
export interface PreferenceProxy {
  proxy: ProxyName;
  direction: 'higher' | 'lower';
}

/** The paper's eight preferences; a custom preference has no proxy unless its name is one of these. */
export const preferenceProxies: Readonly<Record<string, PreferenceProxy>> = Object.freeze({
  concise: { proxy: 'words', direction: 'lower' },
  verbose: { proxy: 'words', direction: 'higher' },
  uplifting: { proxy: 'sentiment', direction: 'higher' },
  pleasant: { proxy: 'sentiment', direction: 'higher' },
  formal: { proxy: 'formality', direction: 'higher' },
  complex: { proxy: 'grade', direction: 'higher' },
  creative: { proxy: 'diversity', direction: 'higher' },
  sycophantic: { proxy: 'flattery', direction: 'higher' },
});

/** Every proxy of one answer. */
export function measureAll(text: string): Record<ProxyName, number> {
  const values = {} as Record<ProxyName, number>;
  for (const proxy of Object.values(proxies)) values[proxy.name] = proxy.measure(text);
  return values;
}
