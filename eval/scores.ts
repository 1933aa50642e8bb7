/**
 * Aggregates the stored answers (and judgements) into scores.json: per
 * preference and method, the mean proxy value, win rates against `base` and
 * against `pref` by the proxy and by the judge, and what the method costs.
 *
 * A win rate counts a win as 1 and a tie as ½ over the questions that have
 * both answers: 0.5 means "no different from the reference".
 *
 * @packageDocumentation
 */
import type { PairOutcome } from './judge';
import type { EvalMethod } from './plan';
import { preferenceProxies, proxies, type ProxyName } from './proxies/index';
import type { ResponseRecord } from './runner';

/** The two references every method is compared with. */
export type Reference = 'base' | 'pref';

/** One line of judgements.jsonl. */
export interface JudgementRecord {
  key: string;
  questionSet: string;
  questionIndex: number;
  preference: string;
  method: EvalMethod;
  reference: Reference;
  outcome: PairOutcome;
  agreed: boolean;
  /** The raw verdicts, candidate first then candidate second. */
  verdicts: [string, string];
  replies: [string, string];
}

/** A win rate and the number of pairs it is over. */
export interface WinRate {
  rate: number;
  pairs: number;
}

/** Scores of one method on one preference. */
export interface MethodScores {
  answers: number;
  /** Mean of the preference's proxy; null when the preference has no proxy. */
  meanProxy: number | null;
  proxyWinRate: Record<Reference, WinRate | null>;
  judgeWinRate: Record<Reference, WinRate | null>;
  /** Share of judged pairs whose two orders agreed. */
  judgeAgreement: number | null;
  meanTokens: number;
  tokensPerSecond: number;
}

export interface PreferenceScores {
  name: string;
  proxy: ProxyName | null;
  direction: 'higher' | 'lower' | null;
  methods: Partial<Record<EvalMethod, MethodScores>>;
}

/** Over every preference: mean of the per-preference win rates, and cost. */
export interface OverallScores {
  proxyWinRate: Record<Reference, number | null>;
  judgeWinRate: Record<Reference, number | null>;
  judgeAgreement: number | null;
  meanTokens: number;
  tokensPerSecond: number;
  answers: number;
}

/** The content of scores.json. */
export interface EvalScores {
  proxies: Record<ProxyName, string>;
  methods: EvalMethod[];
  preferences: PreferenceScores[];
  overall: Partial<Record<EvalMethod, OverallScores>>;
}

const POINTS: Record<PairOutcome, number> = { win: 1, tie: 0.5, loss: 0 };

/** Win rate of a list of outcomes; null when empty. */
export function winRate(outcomes: readonly PairOutcome[]): WinRate | null {
  if (outcomes.length === 0) return null;
  return { rate: outcomes.reduce((sum, outcome) => sum + POINTS[outcome], 0) / outcomes.length, pairs: outcomes.length };
}

/** The candidate's outcome when `direction` says which proxy values follow the preference better. */
export function compareByProxy(candidate: number, reference: number, direction: 'higher' | 'lower'): PairOutcome {
  if (candidate === reference) return 'tie';
  return (candidate > reference) === (direction === 'higher') ? 'win' : 'loss';
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((sum, value) => sum + value, 0) / values.length;
}

function meanOrNull(values: readonly (number | null | undefined)[]): number | null {
  const present = values.filter((value): value is number => typeof value === 'number');
  return present.length === 0 ? null : mean(present);
}

/** Computes scores.json from the stored records. */
export function computeScores(
  records: readonly ResponseRecord[],
  judgements: readonly JudgementRecord[],
  preferenceNames: readonly string[],
  methods: readonly EvalMethod[],
): EvalScores {
  const questionKey = (record: { questionSet: string; questionIndex: number }): string =>
    `${record.questionSet}#${record.questionIndex}`;
  const baseByQuestion = new Map<string, ResponseRecord>();
  for (const record of records) if (record.method === 'base') baseByQuestion.set(questionKey(record), record);

  const preferences = preferenceNames.map((name): PreferenceScores => {
    const mapping = preferenceProxies[name];
    const ofPreference = records.filter((record) => record.preference === name);
    const prefByQuestion = new Map(ofPreference.filter((record) => record.method === 'pref')
      .map((record) => [questionKey(record), record]));
    const askedHere = new Set(ofPreference.map(questionKey));
    const scores: PreferenceScores = {
      name, proxy: mapping?.proxy ?? null, direction: mapping?.direction ?? null, methods: {},
    };
    for (const method of methods) {
      // base answers are shared by all preferences: they are scored on each preference's proxy.
      const answers = method === 'base'
        ? [...baseByQuestion.values()].filter((record) => askedHere.size === 0 || askedHere.has(questionKey(record)))
        : ofPreference.filter((record) => record.method === method);
      if (answers.length === 0) continue;
      const proxyOutcomes: Record<Reference, PairOutcome[]> = { base: [], pref: [] };
      if (mapping) {
        for (const answer of answers) {
          const references: Record<Reference, ResponseRecord | undefined> = {
            base: baseByQuestion.get(questionKey(answer)),
            pref: prefByQuestion.get(questionKey(answer)),
          };
          for (const reference of ['base', 'pref'] as const) {
            const other = references[reference];
            if (!other || method === reference) continue;
            proxyOutcomes[reference].push(
              compareByProxy(answer.proxies[mapping.proxy], other.proxies[mapping.proxy], mapping.direction));
          }
        }
      }
      const judged = judgements.filter((judgement) => judgement.preference === name && judgement.method === method);
      const judgeOutcomes = (reference: Reference): PairOutcome[] =>
        judged.filter((judgement) => judgement.reference === reference).map((judgement) => judgement.outcome);
      scores.methods[method] = {
        answers: answers.length,
        meanProxy: mapping ? mean(answers.map((answer) => answer.proxies[mapping.proxy])) : null,
        proxyWinRate: { base: winRate(proxyOutcomes.base), pref: winRate(proxyOutcomes.pref) },
        judgeWinRate: { base: winRate(judgeOutcomes('base')), pref: winRate(judgeOutcomes('pref')) },
        judgeAgreement: judged.length === 0 ? null
          : judged.filter((judgement) => judgement.agreed).length / judged.length,
        meanTokens: mean(answers.map((answer) => answer.tokens)),
        tokensPerSecond: mean(answers.map((answer) => answer.timing.tokensPerSecond)),
      };
    }
    return scores;
  });

  const overall: Partial<Record<EvalMethod, OverallScores>> = {};
  for (const method of methods) {
    const perPreference = preferences.map((preference) => preference.methods[method])
      .filter((scores): scores is MethodScores => scores !== undefined);
    const answers = method === 'base' ? [...baseByQuestion.values()]
      : records.filter((record) => record.method === method);
    if (answers.length === 0) continue;
    overall[method] = {
      proxyWinRate: {
        base: meanOrNull(perPreference.map((scores) => scores.proxyWinRate.base?.rate)),
        pref: meanOrNull(perPreference.map((scores) => scores.proxyWinRate.pref?.rate)),
      },
      judgeWinRate: {
        base: meanOrNull(perPreference.map((scores) => scores.judgeWinRate.base?.rate)),
        pref: meanOrNull(perPreference.map((scores) => scores.judgeWinRate.pref?.rate)),
      },
      judgeAgreement: meanOrNull(perPreference.map((scores) => scores.judgeAgreement)),
      meanTokens: mean(answers.map((answer) => answer.tokens)),
      tokensPerSecond: mean(answers.map((answer) => answer.timing.tokensPerSecond)),
      answers: answers.length,
    };
  }
  const descriptions = {} as Record<ProxyName, string>;
  for (const proxy of Object.values(proxies)) descriptions[proxy.name] = proxy.description;
  return { proxies: descriptions, methods: [...methods], preferences, overall };
}
