/**
 * {@link Scorer}: the log-probabilities a model gives a fixed continuation
 * after a conversation (teacher forcing), with nothing generated. What it is
 * for: the fluency of a text under a prompt (its mean negative
 * log-likelihood), and reading a judge's verdict from the probabilities of
 * its verdict tokens.
 *
 * @packageDocumentation
 */
import { cString } from './addon';
import type { NativeScorer } from './addon-types';
import { AmuletError } from './errors';
import { rules } from './option-rules';
import { objectOption, optionValue } from './options';
import { checkMessages, type ChatMessage } from './session';

/** What a continuation follows: a conversation rendered with the model's chat template, the answer's turn opened. */
export interface ScoreConversation {
  /** The system prompt (default "You are a helpful assistant."; an empty string: none). */
  systemPrompt?: string;
  /** Earlier messages, oldest first. */
  history?: readonly ChatMessage[];
  /** The user's message the continuation answers. */
  question: string;
}

/** Options of {@link Model.createScorer}. */
export interface ScorerOptions {
  /** Most tokens of a conversation and its continuation together (default 4096). */
  contextSize?: number;
  /** CPU threads (default: one per hardware thread). */
  threads?: number;
  /** Tokens per decode (default 512). */
  batchSize?: number;
}

/** Options of one {@link Scorer.score} call. */
export interface ScoreOptions {
  /** Stops the scoring between two decodes; the promise then rejects with `ERR_ABORTED`. */
  signal?: AbortSignal;
}

/** The log-probabilities of a continuation. */
export interface ScoreResult {
  /** The continuation's tokens (as given, or as its text tokenises). */
  tokens: number[];
  /** log P(tokens[i] | conversation, tokens before i), natural log; `-Infinity` where the model rules a token out. */
  logProbs: Float32Array;
  /** The sum of {@link ScoreResult.logProbs}, in float64. */
  sumLogProb: number;
  /** −sumLogProb / tokens: the mean negative log-likelihood per token. */
  meanNll: number;
  /** Tokens of the rendered conversation. */
  promptTokenCount: number;
  /** Tokens decoded by this call. */
  evaluatedTokenCount: number;
  /** Tokens found in the scorer's KV cache from its previous call. */
  reusedTokenCount: number;
  /** Wall time of the call, in ms. */
  durationMs: number;
}

/** A continuation: its text (tokenised as plain text, no special tokens), or token ids. */
export type Continuation = string | readonly number[];

function invalid(message: string): AmuletError {
  return new AmuletError('ERR_INVALID_OPTION', message);
}

/**
 * Scores continuations on a context of its own (created on the first call,
 * off the JavaScript thread). Calls run one after another, in call order,
 * and a call whose conversation and continuation start like the previous
 * call's evaluates only what differs: scoring two continuations of one
 * conversation evaluates the conversation once. Dispose it (or use
 * `await using`) to free its context.
 */
export class Scorer {
  readonly #native: NativeScorer;
  readonly #vocabularySize: number;
  readonly #onDispose: (scorer: Scorer) => void;
  #queue: Promise<unknown> = Promise.resolve();
  #abortCurrent: (() => void) | undefined;
  #disposed = false;

  /** @internal Created by {@link Model.createScorer}. */
  constructor(native: NativeScorer, vocabularySize: number, onDispose: (scorer: Scorer) => void) {
    this.#native = native;
    this.#vocabularySize = vocabularySize;
    this.#onDispose = onDispose;
  }

  /**
   * The log-probability of each token of `continuation` after
   * `conversation`. Invalid input throws `ERR_INVALID_OPTION` at once; the
   * promise rejects with `ERR_CONTEXT_FULL` (the conversation and the
   * continuation do not fit), `ERR_ABORTED`, `ERR_DISPOSED`, `ERR_DECODE`,
   * `ERR_CONTEXT_CREATE` or `ERR_TEMPLATE`.
   */
  score(conversation: ScoreConversation, continuation: Continuation, options: ScoreOptions = {}): Promise<ScoreResult> {
    if (this.#disposed) throw new AmuletError('ERR_DISPOSED', 'the scorer has been disposed');
    const settings = objectOption('conversation', conversation);
    if (typeof settings.question !== 'string') throw invalid('conversation.question must be a string');
    const systemPrompt = optionValue(rules.systemPrompt, settings.systemPrompt, rules.systemPrompt.default,
      'conversation.systemPrompt');
    const history = checkMessages(settings.history, 'conversation.history');
    const nativeContinuation = this.#checkContinuation(continuation);
    const signal = objectOption('options', options).signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalid('signal must be an AbortSignal');
    const request = {
      systemPrompt: cString(systemPrompt),
      turns: [...history, { role: 'user' as const, content: settings.question }]
        .map((message) => ({ ...message, content: cString(message.content) })),
      continuation: nativeContinuation,
    };
    const run = async (): Promise<ScoreResult> => {
      if (this.#disposed) throw new AmuletError('ERR_DISPOSED', 'the scorer has been disposed');
      if (signal?.aborted) throw new AmuletError('ERR_ABORTED', 'the scoring was aborted');
      const handle = this.#native.score(request);
      const onAbort = (): void => handle.abort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#abortCurrent = onAbort;
      try {
        const native = await handle.promise;
        let sum = 0;
        for (const value of native.logProbs) sum += value;
        return {
          tokens: native.tokens,
          logProbs: native.logProbs,
          sumLogProb: sum,
          meanNll: -sum / native.tokens.length,
          promptTokenCount: native.promptTokens,
          evaluatedTokenCount: native.evaluatedTokens,
          reusedTokenCount: native.reusedTokens,
          durationMs: native.ms,
        };
      } finally {
        this.#abortCurrent = undefined;
        signal?.removeEventListener('abort', onAbort);
      }
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /** Aborts a running call, waits for it to stop, and frees the scorer's context. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#abortCurrent?.();
    await this.#queue;
    this.#native.dispose();
    this.#onDispose(this);
  }

  /** Disposes it, for `await using`: the same as `dispose()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  #checkContinuation(continuation: Continuation): string | number[] {
    if (typeof continuation === 'string') {
      if (continuation === '') throw invalid('the continuation must not be empty');
      return cString(continuation);
    }
    if (!Array.isArray(continuation) || continuation.length === 0) {
      throw invalid('the continuation must be a non-empty string or a non-empty array of token ids');
    }
    return continuation.map((token: unknown, index) => {
      if (typeof token !== 'number' || !Number.isInteger(token) || token < 0 || token >= this.#vocabularySize) {
        throw invalid(`continuation[${index}] must be a token id from 0 to ${this.#vocabularySize - 1} ` +
          `(got ${String(token)})`);
      }
      return token;
    });
  }
}
