/**
 * {@link GenerationStream}: what `session.prompt()` returns. Iterate it for
 * text chunks as they are decoded, or await it (or its `result`) for the
 * final {@link GenerationResult}.
 *
 * @packageDocumentation
 */
import type { NativeGeneration, NativeOutcome, NativeToken } from './addon-types';
import { AmuletError } from './errors';
import type { RealignMethod } from './options';

/** Why a generation ended. */
export type FinishReason =
  /** The model produced an end-of-generation token, or the text reached a stop string. */
  | 'stop'
  /** `maxTokens` tokens were generated. */
  | 'maxTokens'
  /** The session's context filled up. */
  | 'contextFull';

/** One realigned token, seen through the per-token trace (`trace: true`). */
export interface TokenTrace {
  /** The token that was emitted. */
  token: number;
  /** Most likely token of the base sequence (the prompt without the preference), its text and probability. */
  baseToken: number;
  /** The base sequence's most likely token, as text (raw bytes: possibly part of a character). */
  baseText: string;
  /** Its probability under the base sequence. */
  baseProbability: number;
  /** Most likely token of the (first) preference sequence, its text and probability. */
  preferenceToken: number;
  /** The preference sequence's most likely token, as text. */
  preferenceText: string;
  /** Its probability under the preference sequence. */
  preferenceProbability: number;
  /** Most likely token after realignment, its text and probability. */
  realignedToken: number;
  /** The realigned distribution's most likely token, as text. */
  realignedText: string;
  /** Its realigned probability. */
  realignedProbability: number;
  /** KL(realigned ‖ base) in nats: how far realignment moved this token's distribution. */
  klDivergence: number;
}

/**
 * Raw rows of one token (diagnostics, `captureLogits: true`): the logits of
 * the base sequence and of each preference sequence, and the realigned
 * log-probabilities the sampler produced from them. A prompt that decodes one
 * sequence (`base`, `pref`) has its row as `baseLogits`, no preference rows,
 * and that row's log-probabilities.
 */
export interface LogitCapture {
  /** The token sampled from these rows. */
  token: number;
  /** Raw logits of the base sequence (or of the one sequence decoded). */
  baseLogits: Float32Array;
  /** Raw logits of each preference sequence, in the order of the preferences. */
  preferenceLogits: Float32Array[];
  /** Log-probabilities of the distribution the token was sampled from. */
  realignedLogProbs: Float32Array;
  /**
   * The guidance scale s this token was realigned with: the method's own
   * (`guidanceScale` of the result), or less where a `klBudget` capped it;
   * 0 for a prompt that decodes one sequence.
   */
  guidanceScale: number;
  /**
   * With `echoGuard`: the token ids each preference guards (one sorted list
   * per preference, in the order given), the set its own push leaves
   * unpromoted.
   */
  echoGuardTokens?: number[][];
}

/** A piece of streamed text: always valid UTF-8 (whole characters). */
export interface TextChunk {
  /** The text these tokens produced (whole UTF-8 characters; may be empty). */
  text: string;
  /** The tokens that produced this text. */
  tokens: number[];
  /** One entry per token, when the prompt asked for a trace. */
  traces?: TokenTrace[];
  /** One entry per token, when the prompt asked to capture logits. */
  captures?: LogitCapture[];
}

/** The outcome of a finished generation. */
export interface GenerationResult {
  /** The whole answer: exactly the concatenation of the streamed chunks. */
  text: string;
  /** Why the generation ended. */
  finishReason: FinishReason;
  /** The stop string ({@link PromptOptions.stop}) the answer ended at; absent when it ended otherwise. */
  stopString?: string;
  /** The method the answer was decoded with. */
  method: RealignMethod;
  /** Tokens generated. */
  generatedTokenCount: number;
  /** Tokens in the (longest) prompt. */
  promptTokenCount: number;
  /**
   * Prompt tokens actually evaluated, summed over the sequences: tokens the
   * session's KV cache already held from earlier turns are not evaluated
   * again, and a prefix the sequences share is evaluated once. On a later
   * turn of a conversation this is about the new exchange times the number
   * of sequences, not the whole history.
   */
  evaluatedPromptTokenCount: number;
  /** Prompt tokens reused from the session's KV cache (earlier turns), summed over the sequences. */
  reusedPromptTokenCount: number;
  /**
   * Messages dropped from the start of the history so that the prompt fits
   * (`contextOverflow: 'dropOldestTurns'`); the session's history no longer has them.
   */
  droppedMessageCount: number;
  /** Sequences decoded together (base + preferences). */
  sequenceCount: number;
  /** Generated tokens per second, after the prompt was evaluated. */
  tokensPerSecond: number;
  /** From the start of the generation to the first token, in ms. */
  timeToFirstTokenMs: number;
  /** Prompt evaluation time, in ms. */
  promptEvaluationMs: number;
  /** Mean time per token in the sampler chain (realignment + sampling), in µs. */
  samplerMicrosecondsPerToken: number;
  /**
   * Where the realignment and sampling ran: `'backend'` in llama.cpp's compute
   * graph (see {@link RealignOn}), `'cpu'` on the host.
   */
  realignedOn: 'cpu' | 'backend';
  /**
   * The effective guidance scale s: the realigned distribution is
   * softmax(l_p + s (l_p − l_b)). s = a_K − 1 for `amulet` (1.5338 by
   * default, 4.6487 with the paper's α = 2), `ratio` for `la`, 0 for `pref`, −1 for `base`.
   */
  guidanceScale: number;
  /**
   * The scale the generated tokens were realigned with, averaged over them:
   * `guidanceScale` (to float32 precision, the precision each token's scale
   * is kept in) unless a `klBudget` lowered it on some tokens, and
   * `guidanceScale` itself when no token was generated.
   */
  meanGuidanceScale: number;
}

interface StreamSetup {
  /** Settles when the generation may start: its session runs one generation at a time. */
  ready: Promise<void>;
  start: () => NativeGeneration;
  method: RealignMethod;
  signal: AbortSignal | undefined;
  /** Called once with the result, before it is delivered (the session records history here). */
  onComplete: (result: GenerationResult) => void;
}

function traceOf(token: NativeToken): TokenTrace | undefined {
  return token.trace && { token: token.token, ...token.trace };
}

function captureOf(token: NativeToken): LogitCapture | undefined {
  if (!token.capture) return undefined;
  const [baseLogits, ...preferenceLogits] = token.capture.rows;
  return {
    token: token.token, baseLogits, preferenceLogits, realignedLogProbs: token.capture.realignedLogProbs,
    guidanceScale: token.capture.guidanceScale,
    ...(token.capture.echoGuardTokens ? { echoGuardTokens: token.capture.echoGuardTokens } : {}),
  };
}

function abortedError(): AmuletError {
  return new AmuletError('ERR_ABORTED', 'the generation was aborted');
}

/**
 * Where a generation is (docs/architecture.md, "States of a generation"):
 * queued behind its session's earlier prompt, running natively, or ended,
 * with a result or an error. It only moves forward.
 */
type StreamState =
  /** Waiting for the session's earlier prompt to end. */
  | { readonly kind: 'queued' }
  /** Decoding on the context's thread since `startTime`; `firstTokenMs` once the first token came. */
  | { readonly kind: 'running'; readonly native: NativeGeneration; readonly startTime: number; firstTokenMs?: number }
  /** Ended with a result, which the session has recorded. */
  | { readonly kind: 'succeeded' }
  /** Ended with an error (`ERR_ABORTED` when it was stopped). */
  | { readonly kind: 'failed'; readonly error: AmuletError };

/**
 * A generation. Async-iterable (text chunks) and awaitable (the final
 * result); either, both or neither may be used. Once running it decodes to
 * the end whether or not anyone reads it, keeping the chunks nobody has
 * iterated yet; while a `for await` loop is reading it, it decodes only as
 * fast as the loop asks. Breaking out of the loop aborts the generation.
 */
export class GenerationStream implements AsyncIterable<TextChunk>, PromiseLike<GenerationResult> {
  readonly #result: Promise<GenerationResult>;
  /** Resolves when the generation has ended, however it ended; never rejects. */
  readonly settled: Promise<void>;
  /**
   * @internal Resolves when the session may start its next prompt: this one
   * has ended and so has every prompt before it (one aborted while queued
   * ends at once, but the prompt before it may still run).
   */
  readonly released: Promise<void>;

  readonly #setup: StreamSetup;
  #state: StreamState = { kind: 'queued' };
  /** Chunks decoded and not yet iterated. */
  readonly #ready: TextChunk[] = [];
  /** Tokens whose text is still an incomplete character. */
  #held: NativeToken[] = [];
  #text = '';
  readonly #started: Promise<void>;
  /** The native call in flight, shared by whoever waits for more. */
  #pull: Promise<void> | undefined;
  /** Whether an iterator was made, and whether its loop is still reading (it paces the decoding then). */
  #reader: 'none' | 'reading' | 'left' = 'none';
  #abortRequested = false;
  #resolve!: (result: GenerationResult) => void;
  #reject!: (error: AmuletError) => void;

  /** @internal Created by `Session.prompt()`. */
  constructor(setup: StreamSetup) {
    this.#setup = setup;
    this.#result = new Promise<GenerationResult>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#result.catch(() => undefined);  // a consumer that only iterates gets the error there
    this.settled = this.#result.then(() => undefined, () => undefined);
    const onAbort = (): void => this.abort();
    setup.signal?.addEventListener('abort', onAbort, { once: true });
    void this.settled.then(() => setup.signal?.removeEventListener('abort', onAbort));
    this.released = Promise.all([setup.ready, this.settled]).then(() => undefined);
    this.#started = setup.ready.then(() => this.#start());
    void this.#started.then(() => this.#pump());
    if (setup.signal?.aborted) this.abort();
  }

  /** Whether it has ended, with a result or an error. */
  #ended(): boolean {
    return this.#state.kind === 'succeeded' || this.#state.kind === 'failed';
  }

  /** queued → running, or → failed when it cannot start. */
  #start(): void {
    if (this.#state.kind !== 'queued') return;
    try {
      const startTime = performance.now();
      this.#state = { kind: 'running', native: this.#setup.start(), startTime };
    } catch (error) {
      this.#fail(error instanceof AmuletError ? error : new AmuletError('ERR_NATIVE', String(error), { cause: error }));
    }
  }

  #fail(error: AmuletError): void {
    if (this.#ended()) return;
    this.#state = { kind: 'failed', error };
    this.#reject(error);
  }

  #emit(text: string): void {
    const tokens = this.#held;
    this.#held = [];
    const chunk: TextChunk = { text, tokens: tokens.map((token) => token.token) };
    const traces = tokens.map(traceOf).filter((trace): trace is TokenTrace => trace !== undefined);
    if (traces.length > 0) chunk.traces = traces;
    const captures = tokens.map(captureOf).filter((capture): capture is LogitCapture => capture !== undefined);
    if (captures.length > 0) chunk.captures = captures;
    this.#text += text;
    this.#ready.push(chunk);
  }

  /** running → succeeded or failed, by the native outcome. */
  #finish(running: Extract<StreamState, { kind: 'running' }>, outcome: NativeOutcome): void {
    if (outcome.tailText !== '' || this.#held.length > 0) this.#emit(outcome.tailText);
    if (outcome.error) return this.#fail(outcome.error);
    if (outcome.finishReason === 'aborted') return this.#fail(abortedError());
    const generated = outcome.generatedTokens;
    const result: GenerationResult = {
      text: this.#text,
      finishReason: outcome.finishReason,
      method: this.#setup.method,
      generatedTokenCount: generated,
      promptTokenCount: outcome.promptTokens,
      evaluatedPromptTokenCount: outcome.evaluatedTokens,
      reusedPromptTokenCount: outcome.reusedTokens,
      droppedMessageCount: outcome.droppedMessages,
      sequenceCount: outcome.sequences,
      tokensPerSecond: outcome.generationMs > 0 ? (generated * 1000) / outcome.generationMs : 0,
      timeToFirstTokenMs: running.firstTokenMs ?? performance.now() - running.startTime,
      promptEvaluationMs: outcome.promptMs,
      samplerMicrosecondsPerToken: generated > 0 ? outcome.samplerTotalUs / generated : 0,
      guidanceScale: outcome.guidanceScale,
      meanGuidanceScale: outcome.meanGuidanceScale,
      realignedOn: outcome.realignedOn,
    };
    if (outcome.stopString !== undefined) result.stopString = outcome.stopString;
    this.#state = { kind: 'succeeded' };
    this.#setup.onComplete(result);
    this.#resolve(result);
  }

  async #pullOnce(): Promise<void> {
    await this.#started;
    const running = this.#state;
    if (running.kind !== 'running') return;
    let step;
    try {
      step = await running.native.next();
    } catch (error) {
      this.#fail(error instanceof AmuletError ? error : new AmuletError('ERR_NATIVE', String(error), { cause: error }));
      return;
    }
    if (step.tokens.length > 0) running.firstTokenMs ??= performance.now() - running.startTime;
    for (const token of step.tokens) {
      this.#held.push(token);
      if (token.text !== '') this.#emit(token.text);
    }
    if (step.outcome) this.#finish(running, step.outcome);
  }

  /** Waits for more chunks or the end; concurrent callers share one native call. */
  #more(): Promise<void> {
    this.#pull ??= this.#pullOnce().finally(() => {
      this.#pull = undefined;
    });
    return this.#pull;
  }

  /**
   * Pulls to the end, keeping the chunks for whoever iterates, except while
   * a loop is reading (it pulls itself, at its own pace) and the stream is
   * not aborted. So the result settles whether or not anyone reads, and the
   * session's next prompt never waits on a stream nobody reads.
   */
  async #pump(): Promise<void> {
    try {
      while (!this.#ended() && (this.#reader !== 'reading' || this.#abortRequested)) await this.#more();
    } catch {
      // #pullOnce turns every failure into the failed state; nothing is left to report here.
    }
  }

  /** The final result; rejects with an {@link AmuletError} (e.g. `ERR_ABORTED`). Settles when the generation ends. */
  get result(): Promise<GenerationResult> {
    return this.#result;
  }

  /** Streams the text as it is decoded. A stream can be iterated once. */
  [Symbol.asyncIterator](): AsyncIterator<TextChunk> {
    if (this.#reader !== 'none') throw new AmuletError('ERR_BUSY', 'this generation is already being iterated');
    this.#reader = 'reading';
    return {
      next: async (): Promise<IteratorResult<TextChunk>> => {
        while (this.#ready.length === 0 && !this.#ended()) await this.#more();
        const chunk = this.#ready.shift();
        if (chunk) return { value: chunk, done: false };
        this.#reader = 'left';
        if (this.#state.kind === 'failed') throw this.#state.error;
        return { value: undefined, done: true };
      },
      return: async (): Promise<IteratorResult<TextChunk>> => {
        // Leaving the loop early stops the generation; the session moves on once it has stopped.
        this.#reader = 'left';
        this.abort();
        return { value: undefined, done: true };
      },
    };
  }

  /**
   * Stops the generation within one token (one still queued at once, without
   * starting); the stream then fails with `ERR_ABORTED`.
   */
  abort(): void {
    if (this.#ended() || this.#abortRequested) return;
    this.#abortRequested = true;
    // The prompts queued after this one still wait for the one before it (`released`), so they keep their order.
    if (this.#state.kind === 'queued') return this.#fail(abortedError());
    if (this.#state.kind === 'running') this.#state.native.abort();
    // A loop may be reading but no longer calling next(): pull to the aborted end so result and settled settle.
    void this.#pump();
  }

  then<TResult1 = GenerationResult, TResult2 = never>(
    onfulfilled?: ((value: GenerationResult) => TResult1 | PromiseLike<TResult1>) | null,
    onrejected?: ((reason: unknown) => TResult2 | PromiseLike<TResult2>) | null,
  ): Promise<TResult1 | TResult2> {
    return this.result.then(onfulfilled, onrejected);
  }
}
