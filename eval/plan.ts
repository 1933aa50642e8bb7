/**
 * The run plan: which answers an evaluation needs, each with a stable key so
 * that an interrupted run can skip what it already has. A `base` answer does
 * not depend on the preference, so it is planned once per question and
 * shared by every preference.
 *
 * @packageDocumentation
 */
import type { EvalPreference, EvalQuestion } from './inputs';

/** The methods the harness compares. `beam` is beam search over the preference prompt. */
export type EvalMethod = 'base' | 'pref' | 'la' | 'amulet' | 'beam';

export const evalMethods: readonly EvalMethod[] = ['base', 'pref', 'la', 'amulet', 'beam'];

/** One answer to produce. */
export interface EvalJob {
  key: string;
  question: EvalQuestion;
  /** Undefined for `base`. */
  preference: EvalPreference | undefined;
  method: EvalMethod;
}

/** The key of a question: its set and index. */
export function questionKey(question: EvalQuestion): string {
  return `${question.set}#${question.index}`;
}

/** The key of an answer; `base` answers have no preference. */
export function jobKey(question: EvalQuestion, preference: string | undefined, method: EvalMethod): string {
  return `${questionKey(question)}|${method === 'base' ? '-' : preference}|${method}`;
}

/**
 * Every answer, question by question (so that an interrupted run has whole
 * questions done): `base` once, then each preference with each other method.
 */
export function planJobs(
  questions: readonly EvalQuestion[],
  preferences: readonly EvalPreference[],
  methods: readonly EvalMethod[],
): EvalJob[] {
  const jobs: EvalJob[] = [];
  for (const question of questions) {
    if (methods.includes('base')) {
      jobs.push({ key: jobKey(question, undefined, 'base'), question, preference: undefined, method: 'base' });
    }
    for (const preference of preferences) {
      for (const method of methods) {
        if (method === 'base') continue;
        jobs.push({ key: jobKey(question, preference.name, method), question, preference, method });
      }
    }
  }
  return jobs;
}
