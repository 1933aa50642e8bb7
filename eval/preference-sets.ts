/**
 * The built-in preference sets: the paper's eight adjectives, and an
 * extended set of twelve that asks for things a reader can check (format,
 * language, persona, audience, tone, length), each with a proxy in
 * proxies/index.ts. Names are unique across the sets.
 *
 * @packageDocumentation
 */
import type { EvalPreference } from './inputs';

/** The name of a built-in set. */
export type PreferenceSetName = 'paper' | 'extended';

export const preferenceSetNames: readonly PreferenceSetName[] = ['paper', 'extended'];

/** The paper's sentence form and eight preferences (shared/data/preferences.json holds the same). */
export const paperPreferences: readonly EvalPreference[] = Object.freeze(
  ['creative', 'sycophantic', 'verbose', 'complex', 'formal', 'pleasant', 'concise', 'uplifting'].map((adjective) => ({
    name: adjective,
    text: `Your answer should be ${adjective} as much as possible.`,
    set: 'paper',
  })),
);

/** Preferences beyond the paper's, in the paper's sentence form "Your answer should be ...". */
export const extendedPreferences: readonly EvalPreference[] = Object.freeze(([
  ['bullets', 'formatted as a bulleted list'],
  ['headings', 'organised into sections under Markdown headings'],
  ['one-paragraph', 'a single paragraph of plain prose, with no lists, headings or line breaks'],
  ['french', 'written in French'],
  ['spanish', 'written in Spanish'],
  ['pirate', 'written in the voice of a pirate'],
  ['child', 'simple enough for a five-year-old child to understand'],
  ['expert', 'written for a domain expert, in precise technical terminology'],
  ['enthusiastic', 'enthusiastic and excited'],
  ['neutral', 'neutral and matter-of-fact, without emotional words'],
  ['short', 'at most two sentences long'],
  ['long', 'long and detailed'],
] as const).map(([name, wording]) => ({ name, text: `Your answer should be ${wording}.`, set: 'extended' })));

export const preferenceSets: Readonly<Record<PreferenceSetName, readonly EvalPreference[]>> = Object.freeze({
  paper: paperPreferences,
  extended: extendedPreferences,
});
