/**
 * Produces the planned answers on one model and stores each as a
 * {@link ResponseRecord} as soon as it is done, skipping those the store
 * already has.
 *
 * @packageDocumentation
 */
import type { Model, PreferenceInput, RealignMethod, Session } from '../lib/index';
import { degenerationOf, preferenceWords, type DegenerationScore } from './degeneration';
import { measureAll, type ProxyName } from './proxies/index';
import type { EvalJob } from './plan';
import type { JsonlStore } from './store';
import type { EvalMethod, EvalVariant } from './variants';

/** The settings every answer of a run is produced with (recorded with each answer). */
export interface EvalParameters {
  systemPrompt: string;
  maxTokens: number;
  alpha: number;
  lambda: number;
  eta: number;
  iterations: number;
  ratio: number;
  /** Absent in runs made before the constraint existed: they ran without it (0). */
  plausibility?: number;
  /** Absent in runs made before the budget existed: they ran without it (0). */
  klBudget?: number;
  /** Absent in runs made before the echo guard existed: they ran without it (false). */
  echoGuard?: boolean;
  /** The weight w of the words-only preference at −w (see eval/variants.ts); absent: none. */
  echoPrompt?: number;
  beams: number;
  lengthPenalty: number;
}

/** A stretch of an `amulet` answer's text, marked where Amulet's token differed from the preference prompt's top token. */
export interface TextSegment {
  text: string;
  differs: boolean;
}

/** How likely an answer's tokens are under the evaluated model: mean negative log-likelihood per token, in nats. */
export interface FluencyScore {
  /** The tokens scored. */
  tokens: number;
  /** Under the plain prompt (the run's system prompt, no preference). */
  plainNll: number;
  /** Under the preference prompt (the system prompt with the preference); null for `base` answers. */
  preferenceNll: number | null;
}

/** One line of responses.jsonl. */
export interface ResponseRecord {
  key: string;
  questionSet: string;
  questionIndex: number;
  question: string;
  /** The preference's name; null for `base`. */
  preference: string | null;
  preferenceText: string | null;
  /** The preference's set (`paper`, `extended`, `custom`); absent for `base`, and in runs made before sets existed. */
  preferenceSet?: string;
  method: EvalMethod;
  /** The variant's name (absent in runs made before variants existed: then the method's). */
  variant?: string;
  /** The run's settings with the variant's options applied. */
  parameters: EvalParameters;
  response: string;
  tokens: number;
  /** The generated token ids (absent in older runs and for beam search). */
  tokenIds?: number[];
  /** Fluency (eval/fluency.ts), filled in by the scoring pass once the answers exist; null for an empty answer. */
  fluency?: FluencyScore | null;
  finishReason: string;
  timing: { totalMs: number; promptMs: number; tokensPerSecond: number };
  /**
   * The scale the answer's tokens were realigned with, on average (below the
   * method's under a KL budget); absent for beam search and in older runs.
   */
  meanGuidanceScale?: number;
  proxies: Record<ProxyName, number>;
  /** Invented words, echo and repetition (eval/degeneration.ts); absent in runs made before they existed. */
  degeneration?: DegenerationScore;
  /** `amulet` only: the answer split where realignment picked another token than the preference prompt would. */
  segments?: TextSegment[];
}

/** Progress of a run, after each answer. */
export interface RunProgress {
  done: number;
  total: number;
  /** Answers produced by this process (not read back from an earlier run). */
  producedNow: number;
  /** Milliseconds this process has spent producing them. */
  elapsedMs: number;
  last: ResponseRecord;
}

/** What {@link runJobs} needs besides the jobs. */
export interface RunOptions {
  parameters: EvalParameters;
  threads?: number;
  contextSize?: number;
  /**
   * Answers produced together, as sessions of one shared context whose
   * generations decode in one batch (default 1). Batched rows can differ from
   * a lone row in the last bits, so greedy answers may part at a near-tie.
   */
  parallel?: number;
  signal?: AbortSignal;
  onProgress?: (progress: RunProgress) => void;
}

/** Joins neighbouring chunks with the same mark, so a record stores a few segments rather than one per token. */
function appendSegment(segments: TextSegment[], text: string, differs: boolean): void {
  const last = segments.at(-1);
  if (last && last.differs === differs) last.text += text;
  else if (text !== '') segments.push({ text, differs });
}

/** The record of a variant: the run's settings with its options applied. */
export function variantParameters(parameters: EvalParameters, variant: EvalVariant): EvalParameters {
  return { ...parameters, ...variant.options };
}

type Answer = Pick<ResponseRecord,
  'response' | 'tokens' | 'tokenIds' | 'finishReason' | 'timing' | 'meanGuidanceScale' | 'segments'>;

/** The words-only preference of a variant's `echoPrompt`: the content words of `preferenceText`, in their order. */
export function echoPromptText(preferenceText: string): string {
  return [...preferenceWords(preferenceText)].join(' ');
}

/** The job's preference, and its words-only form at a negative weight where the variant asks for it. */
function preferencesOf(job: EvalJob, parameters: EvalParameters): PreferenceInput[] {
  if (!job.preference) return [];
  const { text } = job.preference;
  const words = echoPromptText(text);
  if (!parameters.echoPrompt || words === '') return [text];
  return [text, { text: words, weight: -parameters.echoPrompt }];
}

async function answerWithSession(session: Session, job: EvalJob, parameters: EvalParameters,
  signal: AbortSignal | undefined): Promise<Answer> {
  const started = performance.now();
  session.clearHistory();
  const traced = job.variant.method === 'amulet';
  const stream = session.prompt(job.question.question, {
    method: job.variant.method as RealignMethod,
    alpha: parameters.alpha,
    lambda: parameters.lambda,
    eta: parameters.eta,
    iterations: parameters.iterations,
    ratio: parameters.ratio,
    plausibility: parameters.plausibility ?? 0,
    klBudget: parameters.klBudget ?? 0,
    echoGuard: parameters.echoGuard ?? false,
    preferences: preferencesOf(job, parameters),
    maxTokens: parameters.maxTokens,
    trace: traced,
    signal,
  });
  const segments: TextSegment[] = [];
  const tokenIds: number[] = [];
  for await (const chunk of stream) {
    tokenIds.push(...chunk.tokens);
    if (traced) {
      const differs = (chunk.traces ?? []).some((trace) => trace.realignedToken !== trace.preferenceToken);
      appendSegment(segments, chunk.text, differs);
    }
  }
  const result = await stream.result;
  return {
    response: result.text,
    tokens: result.generatedTokenCount,
    tokenIds,
    finishReason: result.finishReason,
    timing: {
      totalMs: performance.now() - started,
      promptMs: result.promptEvaluationMs,
      tokensPerSecond: result.tokensPerSecond,
    },
    meanGuidanceScale: result.meanGuidanceScale,
    ...(traced && { segments }),
  };
}

async function answer(model: Model, session: Session, job: EvalJob, parameters: EvalParameters,
  options: RunOptions): Promise<Answer> {
  if (job.variant.method !== 'beam') return answerWithSession(session, job, parameters, options.signal);
  const started = performance.now();
  const result = await model.beamSearch(job.question.question, {
    systemPrompt: parameters.systemPrompt,
    preferences: job.preference ? [job.preference.text] : [],
    beams: parameters.beams,
    lengthPenalty: parameters.lengthPenalty,
    maxTokens: parameters.maxTokens,
    threads: options.threads,
    signal: options.signal,
  });
  return {
    response: result.text,
    tokens: result.generatedTokenCount,
    finishReason: result.finishReason,
    timing: { totalMs: performance.now() - started, promptMs: result.promptEvaluationMs,
      tokensPerSecond: result.tokensPerSecond },
  };
}

/**
 * Produces every job the store lacks, in plan order, `parallel` at a time,
 * appending each record as it is done. Rejects with `ERR_ABORTED` when
 * `signal` fires; what was stored stays, and a later call continues from
 * there.
 */
export async function runJobs(
  model: Model,
  jobs: readonly EvalJob[],
  store: JsonlStore<ResponseRecord>,
  options: RunOptions,
): Promise<void> {
  const { parameters: runParameters } = options;
  const parallel = options.parallel ?? 1;
  // Every job realigns against at most one preference: two sequences each.
  const context = model.createContext({ sequences: 2 * parallel, threads: options.threads, contextSize: options.contextSize });
  const start = performance.now();
  const todo = jobs.filter((job) => !store.has(job.key));
  let done = jobs.length - todo.length;
  let producedNow = 0;
  let next = 0;
  let failed = false;
  const work = async (session: Session): Promise<void> => {
    while (!failed && next < todo.length) {
      const job = todo[next++]!;
      const parameters = variantParameters(runParameters, job.variant);
      let answered: Answer;
      try {
        answered = await answer(model, session, job, parameters, options);
      } catch (error) {
        failed = true;
        throw error;
      }
      const record: ResponseRecord = {
        key: job.key,
        questionSet: job.question.set,
        questionIndex: job.question.index,
        question: job.question.question,
        preference: job.preference?.name ?? null,
        preferenceText: job.preference?.text ?? null,
        ...(job.preference && { preferenceSet: job.preference.set }),
        method: job.variant.method,
        variant: job.variant.name,
        parameters,
        ...answered,
        proxies: measureAll(answered.response),
        degeneration: degenerationOf(answered.response, job.preference?.text ?? null),
      };
      store.append(record);
      done += 1;
      producedNow += 1;
      options.onProgress?.({ done, total: jobs.length, producedNow, elapsedMs: performance.now() - start, last: record });
    }
  };
  const sessions = Array.from({ length: Math.min(parallel, Math.max(1, todo.length)) },
    () => context.createSession({ systemPrompt: runParameters.systemPrompt }));
  try {
    // The others finish the answer they are on (and store it) before the first failure is reported.
    const outcomes = await Promise.allSettled(sessions.map(work));
    const rejected = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (rejected) throw rejected.reason;
  } finally {
    await context.dispose();
  }
}
