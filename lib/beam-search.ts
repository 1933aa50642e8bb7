/**
 * Beam search over the preference prompt: the paper's "BS" baseline (16
 * beams), run by the addon on a context of its own (see
 * native/engine/beam_search.h), off the JavaScript thread.
 *
 * @packageDocumentation
 */
import { cString } from './addon';
import type { NativeBinding, NativeModel } from './addon-types';
import { AmuletError } from './errors';
import { rules } from './option-rules';
import { objectOption, optionValue, resolvePreferences, type PreferenceInput } from './options';

/** Options of {@link Model.beamSearch}. */
export interface BeamSearchOptions {
  /** The system prompt (default "You are a helpful assistant."); the preference texts are appended to it, as `pref` does. */
  systemPrompt?: string;
  /** Preferences whose texts join the system prompt; weights must not be negative (they are not used otherwise). */
  preferences?: readonly PreferenceInput[];
  /** Beams, 1 to 128 (default 16, the paper's setting). One beam is greedy decoding. */
  beams?: number;
  /** Most tokens to generate (default 256). */
  maxTokens?: number;
  /**
   * Hypotheses are ranked by summed log-probability / length^lengthPenalty
   * (default 1: the mean log-probability per token; 0: the raw sum, which
   * favours short answers). Finite, >= 0.
   */
  lengthPenalty?: number;
  /** Stops the search between two steps; the promise then rejects with `ERR_ABORTED`. */
  signal?: AbortSignal;
  /** CPU threads (default: one per hardware thread). */
  threads?: number;
  /** Tokens per prompt-evaluation batch (default 512). */
  batchSize?: number;
}

/** The best hypothesis of a beam search. */
export interface BeamSearchResult {
  /** The answer. */
  text: string;
  /** Its tokens (without the end-of-generation token). */
  tokens: number[];
  /** Tokens of the answer. */
  generatedTokenCount: number;
  /** Summed natural-log probability of the tokens (and of the end-of-generation token when it stopped). */
  sumLogProb: number;
  /** The ranking score: sumLogProb / length^lengthPenalty. */
  score: number;
  /** `stop` when the answer ended with an end-of-generation token, `maxTokens` when it was cut. */
  finishReason: 'stop' | 'maxTokens';
  /** Beams the search kept at each step. */
  beams: number;
  /** Tokens of the prompt. */
  promptTokenCount: number;
  /** Tokens decoded after the prompt, summed over the beams: the work the search did. */
  decodedTokenCount: number;
  /** Answer tokens per second of generation (comparable with {@link GenerationResult.tokensPerSecond}). */
  tokensPerSecond: number;
  /** Prompt evaluation time, in ms. */
  promptEvaluationMs: number;
  /** Time from the end of prompt evaluation to the answer, in ms. */
  generationMs: number;
}

/** A beam search started: its result, and abort() to stop it between two steps. @internal */
export interface RunningBeamSearch {
  readonly result: Promise<BeamSearchResult>;
  abort(): void;
}

/** Starts one beam search on `model`. Invalid options throw `ERR_INVALID_OPTION` at once. @internal */
export function runBeamSearch(
  binding: NativeBinding,
  model: NativeModel,
  question: string,
  options: BeamSearchOptions,
): RunningBeamSearch {
  if (typeof question !== 'string') throw new AmuletError('ERR_INVALID_OPTION', 'the prompt text must be a string');
  const settings = objectOption('options', options);
  const systemPrompt = optionValue(rules.systemPrompt, settings.systemPrompt);
  const preferences = resolvePreferences(settings.preferences);
  if (preferences.some((preference) => preference.weight < 0)) {
    throw new AmuletError('ERR_INVALID_OPTION', 'beam search runs on the preference prompt, so it cannot follow a negative weight');
  }
  const beams = optionValue(rules.beams, settings.beams);
  const maxTokens = optionValue(rules.maxTokens, settings.maxTokens);
  const lengthPenalty = optionValue(rules.lengthPenalty, settings.lengthPenalty);
  const threads = optionValue(rules.threads, settings.threads);
  const batchSize = optionValue(rules.batchSize, settings.batchSize);
  const signal = settings.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new AmuletError('ERR_INVALID_OPTION', 'signal must be an AbortSignal');
  }
  if (signal?.aborted) {
    return { result: Promise.reject(new AmuletError('ERR_ABORTED', 'the beam search was aborted')), abort: () => undefined };
  }
  const handle = binding.beamSearch(model, {
    systemPrompt: cString(systemPrompt),
    preferences: preferences.map((preference) => cString(preference.text)),
    turns: [{ role: 'user', content: cString(question) }],
    beams, maxTokens, lengthPenalty, threads, batchSize,
  });
  const onAbort = (): void => handle.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  const result = handle.promise.then((native) => ({
    text: native.text,
    tokens: native.tokens,
    generatedTokenCount: native.tokens.length,
    sumLogProb: native.sumLogProb,
    score: native.score,
    finishReason: native.stopped ? 'stop' as const : 'maxTokens' as const,
    beams,
    promptTokenCount: native.promptTokens,
    decodedTokenCount: native.decodedTokens,
    tokensPerSecond: native.generationMs > 0 ? (native.tokens.length * 1000) / native.generationMs : 0,
    promptEvaluationMs: native.promptMs,
    generationMs: native.generationMs,
  })).finally(() => signal?.removeEventListener('abort', onAbort));
  return { result, abort: () => handle.abort() };
}
