/**
 * Aggregates the stored answers (and judgements) into scores.json: per
 * preference and variant, the mean proxy value, win rates against `base` and
 * against `pref` by the proxy and by the judge, the fluency of the answers,
 * and what the variant costs; and the same over each preference set.
 *
 * A win rate counts a win as 1 and a tie as ½ over the questions that have
 * both answers: 0.5 means "no different from the reference". Every rate and
 * ratio comes with a 95 % bootstrap interval over the questions.
 *
 * @packageDocumentation
 */
import { bootstrap, meanOfGroupMeans, type Interval } from './bootstrap';
import { degenerationOf, echoShare, type DegenerationScore } from './degeneration';
import type { EvalPreference } from './inputs';
import type { OrderVerdict, PairOutcome } from './judge';
import { questionKey } from './plan';
import { preferenceProxies, proxies, type ProxyName } from './proxies/index';
import type { FluencyScore, ResponseRecord } from './runner';

/** The two references every variant is compared with: the variants named `base` and `pref`. */
export type Reference = 'base' | 'pref';

/** One line of judgements.jsonl. */
export interface JudgementRecord {
  key: string;
  questionSet: string;
  questionIndex: number;
  preference: string;
  variant: string;
  reference: Reference;
  outcome: PairOutcome;
  candidateShare: number;
  confident: boolean;
  agreed: boolean;
  verdictMass: number;
  /** P(A), P(B) with the candidate first, then second. */
  orders: [OrderVerdict, OrderVerdict];
}

/** A win rate over paired questions, with its 95 % interval. */
export interface WinRate extends Interval {
  pairs: number;
}

/**
 * Fluency of a variant's answers (eval/fluency.ts), token-weighted: the
 * summed NLL over the summed tokens, so that a one-token answer weighs as
 * one token. Null before the scoring pass.
 */
export interface FluencyScores {
  /** Mean NLL per token under the plain prompt. */
  plainNll: number | null;
  /** Mean NLL per token under the preference prompt. */
  preferenceNll: number | null;
  /** plainNll over pref's on the same questions (1 = as likely as the preference prompt's answers). */
  plainNllRatioToPref: Interval | null;
  /** preferenceNll over pref's on the same questions. */
  preferenceNllRatioToPref: Interval | null;
}

/**
 * Degeneration of a variant's answers (eval/degeneration.ts). Invented words
 * are pooled (unknown words over checked words of all the answers, so a
 * short answer weighs little); echo and repetition are means of the
 * answers' shares. A `base` answer's echo is measured against the
 * preference it is scored on: how often the words occur unasked.
 */
export interface DegenerationScores {
  inventedWords: number | null;
  echo: number | null;
  repetition: number | null;
}

/** Scores of one variant on one preference. */
export interface VariantScores {
  answers: number;
  /** Mean of the preference's proxy; null when the preference has no proxy. */
  meanProxy: number | null;
  proxyWinRate: Record<Reference, WinRate | null>;
  judgeWinRate: Record<Reference, WinRate | null>;
  /** Share of judged pairs whose two orders put the same response ahead. */
  judgeAgreement: number | null;
  /** Share of judged pairs with a confident verdict. */
  judgeConfident: number | null;
  fluency: FluencyScores;
  degeneration: DegenerationScores;
  meanTokens: number;
  /** The scale the answers' tokens got, token-weighted; null when no answer records it. */
  meanGuidanceScale: number | null;
  tokensPerSecond: number;
}

export interface PreferenceScores {
  name: string;
  set: string;
  proxy: ProxyName | null;
  direction: 'higher' | 'lower' | null;
  variants: Partial<Record<string, VariantScores>>;
}

/** Over the preferences of one set: means of the per-preference rates, and cost. */
export interface OverallScores {
  preferences: number;
  proxyWinRate: Record<Reference, Interval | null>;
  judgeWinRate: Record<Reference, Interval | null>;
  /** Preferences whose win rate against pref is above 0.5 (by the proxy, by the judge). */
  preferencesAheadOfPref: { proxy: number | null; judge: number | null };
  judgeAgreement: number | null;
  judgeConfident: number | null;
  fluency: FluencyScores;
  degeneration: DegenerationScores;
  meanTokens: number;
  /** The scale the answers' tokens got, token-weighted; null when no answer records it. */
  meanGuidanceScale: number | null;
  tokensPerSecond: number;
  answers: number;
}

/** The content of scores.json. */
export interface EvalScores {
  proxies: Record<ProxyName, string>;
  variants: string[];
  sets: string[];
  preferences: PreferenceScores[];
  /** By set, then by variant. */
  overall: Record<string, Partial<Record<string, OverallScores>>>;
}

const POINTS: Record<PairOutcome, number> = { win: 1, tie: 0.5, loss: 0 };

/** The variant of a record (older records name only the method). */
export function variantOf(record: Pick<ResponseRecord, 'variant' | 'method'>): string {
  return record.variant ?? record.method;
}

/** Win rate of a list of outcomes with its interval; null when empty. */
export function winRate(outcomes: readonly PairOutcome[]): WinRate | null {
  const interval = meanOfGroupMeans([outcomes.map((outcome) => POINTS[outcome])]);
  return interval && { ...interval, pairs: outcomes.length };
}

/** The candidate's outcome when `direction` says which proxy values follow the preference better. */
export function compareByProxy(candidate: number, reference: number, direction: 'higher' | 'lower'): PairOutcome {
  if (candidate === reference) return 'tie';
  return (candidate > reference) === (direction === 'higher') ? 'win' : 'loss';
}

/** Σ scale · tokens / Σ tokens over the answers that record a scale; null when none does. */
function tokenWeightedScale(answers: readonly ResponseRecord[]): number | null {
  let sum = 0;
  let tokens = 0;
  for (const answer of answers) {
    if (answer.meanGuidanceScale === undefined || answer.tokens === 0) continue;
    sum += answer.meanGuidanceScale * answer.tokens;
    tokens += answer.tokens;
  }
  return tokens === 0 ? null : sum / tokens;
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((sum, value) => sum + value, 0) / values.length;
}

/** The answer's stored measures (computed here for answers stored before they existed), echo against `preferenceText`. */
function degenerationFor(answer: ResponseRecord, preferenceText: string): DegenerationScore {
  const stored = answer.degeneration ?? degenerationOf(answer.response, answer.preferenceText);
  return answer.preferenceText === preferenceText ? stored : { ...stored, echo: echoShare(answer.response, preferenceText) };
}

function degenerationScores(measures: readonly DegenerationScore[]): DegenerationScores {
  const checked = measures.reduce((sum, entry) => sum + entry.checkedWords, 0);
  const unknown = measures.reduce((sum, entry) => sum + entry.unknownWords, 0);
  const echoes = measures.map((entry) => entry.echo).filter((value): value is number => value !== null);
  return {
    inventedWords: checked === 0 ? null : unknown / checked,
    echo: echoes.length === 0 ? null : mean(echoes),
    repetition: measures.length === 0 ? null : mean(measures.map((entry) => entry.repetition)),
  };
}

/** What one variant has on one preference, before it is summarised. */
interface Outcomes {
  answers: ResponseRecord[];
  degeneration: DegenerationScore[];
  proxy: Record<Reference, PairOutcome[]>;
  judge: Record<Reference, JudgementRecord[]>;
  /** This answer's fluency and pref's on the same question. */
  fluencyPairs: [FluencyScore, FluencyScore][];
}

type NllKind = 'plainNll' | 'preferenceNll';

/** Σ nll · tokens / Σ tokens over the scores that have `kind`. */
function tokenWeighted(scores: readonly (FluencyScore | null | undefined)[], kind: NllKind): number | null {
  let nll = 0;
  let tokens = 0;
  for (const score of scores) {
    const value = score?.[kind];
    if (score && typeof value === 'number' && score.tokens > 0) {
      nll += value * score.tokens;
      tokens += score.tokens;
    }
  }
  return tokens === 0 ? null : nll / tokens;
}

/** The token-weighted NLL of the candidates over that of their paired references, resampling the pairs. */
function fluencyRatio(pairs: readonly [FluencyScore, FluencyScore][], kind: NllKind): Interval | null {
  const usable = pairs.filter(([a, b]) => typeof a[kind] === 'number' && typeof b[kind] === 'number');
  return bootstrap(usable, (sample) =>
    tokenWeighted(sample.map(([a]) => a), kind)! / tokenWeighted(sample.map(([, b]) => b), kind)!);
}

function fluencyScores(answers: readonly ResponseRecord[], pairs: readonly [FluencyScore, FluencyScore][],
  isPref: boolean): FluencyScores {
  const scores = answers.map((answer) => answer.fluency);
  return {
    plainNll: tokenWeighted(scores, 'plainNll'),
    preferenceNll: tokenWeighted(scores, 'preferenceNll'),
    plainNllRatioToPref: isPref ? null : fluencyRatio(pairs, 'plainNll'),
    preferenceNllRatioToPref: isPref ? null : fluencyRatio(pairs, 'preferenceNll'),
  };
}

/** Computes scores.json from the stored records. */
export function computeScores(
  records: readonly ResponseRecord[],
  judgements: readonly JudgementRecord[],
  preferenceList: readonly EvalPreference[],
  variants: readonly string[],
): EvalScores {
  const baseByQuestion = new Map<string, ResponseRecord>();
  for (const record of records) if (variantOf(record) === 'base') baseByQuestion.set(questionKey(toQuestion(record)), record);

  const collected = new Map<string, Map<string, Outcomes>>();  // preference → variant → outcomes
  const preferences = preferenceList.map((preference): PreferenceScores => {
    const { name } = preference;
    const mapping = preferenceProxies[name];
    const ofPreference = records.filter((record) => record.preference === name);
    const prefByQuestion = new Map(ofPreference.filter((record) => variantOf(record) === 'pref')
      .map((record) => [questionKey(toQuestion(record)), record]));
    const askedHere = new Set(ofPreference.map((record) => questionKey(toQuestion(record))));
    const scores: PreferenceScores = {
      name, set: preference.set, proxy: mapping?.proxy ?? null, direction: mapping?.direction ?? null, variants: {},
    };
    const byVariant = new Map<string, Outcomes>();
    collected.set(name, byVariant);
    for (const variant of variants) {
      // base answers are shared by all preferences: they are scored on each preference's proxy.
      const answers = variant === 'base'
        ? [...baseByQuestion.values()].filter((record) => askedHere.size === 0 || askedHere.has(questionKey(toQuestion(record))))
        : ofPreference.filter((record) => variantOf(record) === variant);
      if (answers.length === 0) continue;
      const outcomes: Outcomes = {
        answers, degeneration: answers.map((answer) => degenerationFor(answer, preference.text)),
        proxy: { base: [], pref: [] }, judge: { base: [], pref: [] }, fluencyPairs: [],
      };
      for (const answer of answers) {
        const question = questionKey(toQuestion(answer));
        const references: Record<Reference, ResponseRecord | undefined> = {
          base: baseByQuestion.get(question), pref: prefByQuestion.get(question),
        };
        for (const reference of ['base', 'pref'] as const) {
          const other = references[reference];
          if (!other || variant === reference || !mapping) continue;
          outcomes.proxy[reference].push(
            compareByProxy(answer.proxies[mapping.proxy], other.proxies[mapping.proxy], mapping.direction));
        }
        const prefFluency = references.pref?.fluency;
        if (answer.fluency && prefFluency) outcomes.fluencyPairs.push([answer.fluency, prefFluency]);
      }
      for (const judgement of judgements) {
        if (judgement.preference === name && judgement.variant === variant) outcomes.judge[judgement.reference].push(judgement);
      }
      byVariant.set(variant, outcomes);
      const judged = [...outcomes.judge.base, ...outcomes.judge.pref];
      scores.variants[variant] = {
        answers: answers.length,
        meanProxy: mapping ? mean(answers.map((answer) => answer.proxies[mapping.proxy])) : null,
        proxyWinRate: { base: winRate(outcomes.proxy.base), pref: winRate(outcomes.proxy.pref) },
        judgeWinRate: {
          base: winRate(outcomes.judge.base.map((judgement) => judgement.outcome)),
          pref: winRate(outcomes.judge.pref.map((judgement) => judgement.outcome)),
        },
        judgeAgreement: judged.length === 0 ? null : judged.filter((judgement) => judgement.agreed).length / judged.length,
        judgeConfident: judged.length === 0 ? null : judged.filter((judgement) => judgement.confident).length / judged.length,
        fluency: fluencyScores(answers, outcomes.fluencyPairs, variant === 'pref'),
        degeneration: degenerationScores(outcomes.degeneration),
        meanTokens: mean(answers.map((answer) => answer.tokens)),
        meanGuidanceScale: tokenWeightedScale(answers),
        tokensPerSecond: mean(answers.map((answer) => answer.timing.tokensPerSecond)),
      };
    }
    return scores;
  });

  const sets = [...new Set(preferenceList.map((preference) => preference.set))];
  const overall: EvalScores['overall'] = {};
  for (const set of sets) {
    const inSet = preferences.filter((preference) => preference.set === set);
    overall[set] = {};
    for (const variant of variants) {
      const outcomes = inSet.map((preference) => collected.get(preference.name)?.get(variant))
        .filter((entry): entry is Outcomes => entry !== undefined);
      if (outcomes.length === 0) continue;
      const perPreference = inSet.map((preference) => preference.variants[variant])
        .filter((scores): scores is VariantScores => scores !== undefined);
      const groups = (pick: (entry: Outcomes) => PairOutcome[]): Interval | null => {
        const present = outcomes.map(pick).filter((list) => list.length > 0);
        return meanOfGroupMeans(present.map((list) => list.map((outcome) => POINTS[outcome])));
      };
      const ahead = (pick: (scores: VariantScores) => WinRate | null): number | null => {
        const rates = perPreference.map(pick).filter((rate): rate is WinRate => rate !== null);
        return rates.length === 0 ? null : rates.filter((rate) => rate.value > 0.5).length;
      };
      const judged = outcomes.flatMap((entry) => [...entry.judge.base, ...entry.judge.pref]);
      const answers = outcomes.flatMap((entry) => entry.answers);
      const unique = variant === 'base' ? [...new Map(answers.map((answer) => [answer.key, answer])).values()] : answers;
      overall[set][variant] = {
        preferences: outcomes.length,
        proxyWinRate: { base: groups((entry) => entry.proxy.base), pref: groups((entry) => entry.proxy.pref) },
        judgeWinRate: {
          base: groups((entry) => entry.judge.base.map((judgement) => judgement.outcome)),
          pref: groups((entry) => entry.judge.pref.map((judgement) => judgement.outcome)),
        },
        preferencesAheadOfPref: {
          proxy: ahead((scores) => scores.proxyWinRate.pref), judge: ahead((scores) => scores.judgeWinRate.pref),
        },
        judgeAgreement: judged.length === 0 ? null : judged.filter((judgement) => judgement.agreed).length / judged.length,
        judgeConfident: judged.length === 0 ? null : judged.filter((judgement) => judgement.confident).length / judged.length,
        fluency: fluencyScores(unique, outcomes.flatMap((entry) => entry.fluencyPairs), variant === 'pref'),
        // Per preference: a base answer's echo differs with the preference it is read against.
        degeneration: degenerationScores(outcomes.flatMap((entry) => entry.degeneration)),
        meanTokens: mean(unique.map((answer) => answer.tokens)),
        meanGuidanceScale: tokenWeightedScale(unique),
        tokensPerSecond: mean(unique.map((answer) => answer.timing.tokensPerSecond)),
        answers: unique.length,
      };
    }
  }
  const descriptions = {} as Record<ProxyName, string>;
  for (const proxy of Object.values(proxies)) descriptions[proxy.name] = proxy.description;
  return { proxies: descriptions, variants: [...variants], sets, preferences, overall };
}

function toQuestion(record: Pick<ResponseRecord, 'questionSet' | 'questionIndex'>): { set: string; index: number } {
  return { set: record.questionSet, index: record.questionIndex };
}
