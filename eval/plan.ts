/**
 * The run plan: which answers an evaluation needs, each with a stable key so
 * that an interrupted run can skip what it already has. A `base` answer does
 * not depend on the preference, so it is planned once per question and
 * shared by every preference.
 *
 * @packageDocumentation
 */
import type { EvalPreference, EvalQuestion } from './inputs';
import type { EvalVariant } from './variants';

/** One answer to produce. */
export interface EvalJob {
  key: string;
  question: EvalQuestion;
  /** Undefined for `base`. */
  preference: EvalPreference | undefined;
  variant: EvalVariant;
}

/** The key of a question: its set and index. */
export function questionKey(question: Pick<EvalQuestion, 'set' | 'index'>): string {
  return `${question.set}#${question.index}`;
}

/** The key of an answer; `base` answers have no preference. */
export function jobKey(question: Pick<EvalQuestion, 'set' | 'index'>, preference: string | undefined,
  variant: Pick<EvalVariant, 'name' | 'method'>): string {
  return `${questionKey(question)}|${variant.method === 'base' ? '-' : preference}|${variant.name}`;
}

/**
 * Every answer, question by question (so that an interrupted run has whole
 * questions done): the `base` variants once, then each preference with each
 * other variant.
 */
export function planJobs(
  questions: readonly EvalQuestion[],
  preferences: readonly EvalPreference[],
  variants: readonly EvalVariant[],
): EvalJob[] {
  const jobs: EvalJob[] = [];
  for (const question of questions) {
    for (const variant of variants) {
      if (variant.method !== 'base') continue;
      jobs.push({ key: jobKey(question, undefined, variant), question, preference: undefined, variant });
    }
    for (const preference of preferences) {
      for (const variant of variants) {
        if (variant.method === 'base') continue;
        jobs.push({ key: jobKey(question, preference.name, variant), question, preference, variant });
      }
    }
  }
  return jobs;
}
