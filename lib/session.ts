/**
 * {@link Session}: a conversation with one model, realigned toward the
 * user's preferences while it decodes.
 *
 * @packageDocumentation
 */
import { cString } from './addon';
import type { NativeRealign, NativeSampling, NativeSession } from './addon-types';
import { AmuletError } from './errors';
import { GenerationStream } from './generation';
import { rules } from './option-rules';
import {
  checkMethodPreferences,
  checkRealignCoefficients,
  objectOption,
  optionValue,
  resolveOutputControls,
  resolvePreferences,
  resolveRealign,
  resolveSampling,
  type OutputControls,
  type Preference,
  type PreferenceInput,
  type RealignMethod,
  type RealignOn,
  type RealignOptions,
  type SamplingOptions,
} from './options';

/** A message of the conversation after the system prompt. */
export interface ChatMessage {
  /** Who wrote it. */
  role: 'user' | 'assistant';
  /** Its text. */
  content: string;
}

/**
 * What a prompt does when the conversation no longer fits in the context.
 * - `error` (default): the prompt fails with `ERR_CONTEXT_FULL`; the history is unchanged.
 * - `dropOldestTurns`: the oldest exchanges (a user message and the answer to
 *   it) are dropped, never the system prompt or the new message, until the
 *   prompt fills at most half of the context, and the session's history
 *   forgets them. Dropping changes the start of every prompt, so that turn
 *   evaluates the kept history again; dropping down to half the context makes
 *   that happen once every few turns rather than on every turn.
 */
export type ContextOverflow = 'error' | 'dropOldestTurns';

/** Options of {@link Model.createSession}. */
export interface SessionOptions extends RealignOptions {
  /** The system prompt of every sequence (default "You are a helpful assistant."); preferences are appended to it. */
  systemPrompt?: string;
  /** The preferences to realign toward (and, with negative weights, away from). */
  preferences?: readonly PreferenceInput[];
  /** Sampling after realignment (default: greedy). */
  sampling?: SamplingOptions;
  /**
   * A conversation to continue, e.g. another session's {@link Session.history}
   * (saved as JSON). The first prompt evaluates it once; later prompts reuse it.
   */
  history?: readonly ChatMessage[];
  /** Context size in tokens, per sequence (default 4096). */
  contextSize?: number;
  /** What a prompt does when the conversation outgrows the context (default `'error'`). */
  contextOverflow?: ContextOverflow;
  /** CPU threads (default: one per hardware thread). */
  threads?: number;
  /** Tokens per prompt-evaluation batch (default 512). */
  batchSize?: number;
  /**
   * Where the realignment runs (default `'auto'`: in the compute graph when
   * the logits are on a GPU or an RPC server).
   */
  realignOn?: RealignOn;
}

/**
 * Options of {@link Session.prompt}; realignment and sampling options override
 * the session's for this prompt. The output controls ({@link OutputControls}:
 * `stop`, `logitBias`, `grammar`, `jsonSchema`) apply to this prompt only.
 */
export interface PromptOptions extends RealignOptions, OutputControls {
  /** Most tokens to generate (default 256). */
  maxTokens?: number;
  /** Stops the generation within one token; the stream then fails with `ERR_ABORTED`. */
  signal?: AbortSignal;
  /** Preferences for this prompt only. */
  preferences?: readonly PreferenceInput[];
  /** Sampling for this prompt only. */
  sampling?: SamplingOptions;
  /** Records a {@link TokenTrace} per token (cheap; off by default). */
  trace?: boolean;
  /**
   * Diagnostics: copies the raw logits of every sequence and the
   * log-probabilities sampled from (the realigned ones, or the one
   * sequence's own) per token into the chunks ({@link LogitCapture}). Costs a
   * few vocabulary-sized arrays per token; meant for tests and research.
   */
  captureLogits?: boolean;
  /** Where the realignment runs, for this prompt only. */
  realignOn?: RealignOn;
  /**
   * The system prompt of this prompt only (the session's otherwise). The KV
   * cache is kept whatever changes: each sequence reuses the longest token
   * prefix it shares with its new prompt, so switching back and forth between
   * conversations costs only the tokens that differ.
   */
  systemPrompt?: string;
}

/** Checks a list of messages (`name` in the errors): user or assistant roles, string contents. */
export function checkMessages(messages: readonly ChatMessage[] | undefined, name: string): ChatMessage[] {
  if (messages === undefined) return [];
  if (!Array.isArray(messages)) throw new AmuletError('ERR_INVALID_OPTION', `${name} must be an array of messages`);
  return messages.map((message: ChatMessage, index) => {
    if (typeof message !== 'object' || message === null || (message.role !== 'user' && message.role !== 'assistant')) {
      throw new AmuletError('ERR_INVALID_OPTION', `${name}[${index}].role must be 'user' or 'assistant'`);
    }
    if (typeof message.content !== 'string') {
      throw new AmuletError('ERR_INVALID_OPTION', `${name}[${index}].content must be a string`);
    }
    return { role: message.role, content: message.content };
  });
}

/**
 * A conversation on a llama.cpp context: a private one of its own
 * ({@link Model.createSession}, created on the first prompt, off the
 * JavaScript thread) or one shared with other sessions
 * ({@link Context.createSession}). Each {@link Session.prompt} decodes the
 * base sequence and one sequence per preference together, realigns every
 * token, and adds the exchange to {@link Session.history}.
 *
 * The KV cache of every sequence is kept from one prompt to the next, so a
 * prompt evaluates only what is new: the last answer's closing tokens and the
 * new message, on each sequence. A sequence whose preference changed
 * ({@link Session.setPreferences} or a prompt's `preferences`) evaluates its
 * whole prompt again; the others are untouched.
 *
 * Prompts on one session run one after another, in the order `prompt()` was
 * called: a prompt made while another runs is queued, starts when the earlier
 * one has ended (however it ended), and sees the exchanges recorded before it.
 * A prompt that fails or is aborted adds nothing to the history. Sessions of
 * one context decode together, in one batched decode per step on the
 * context's decode thread; sessions on contexts of their own decode
 * concurrently, within one process-wide budget of threads.
 */
export class Session {
  readonly #native: NativeSession;
  readonly #vocabularySize: number;
  readonly #onDispose: (session: Session) => void;
  readonly #systemPrompt: string;
  readonly #realign: NativeRealign;
  readonly #sampling: NativeSampling;
  readonly #contextOverflow: ContextOverflow;
  readonly #realignOn: RealignOn;
  #preferences: Required<Preference>[];
  #history: ChatMessage[];
  /** Bumped when the history is replaced or cleared, so a prompt that ends after that leaves it alone. */
  #historyVersion = 0;
  /** The prompts that have not ended, in the order they run: each starts when the one before it has ended. */
  readonly #queue: GenerationStream[] = [];
  #disposed = false;

  /** @internal Created by {@link Model.createSession}. */
  constructor(native: NativeSession, vocabularySize: number, options: SessionOptions,
    onDispose: (session: Session) => void) {
    this.#native = native;
    this.#vocabularySize = vocabularySize;
    this.#onDispose = onDispose;
    this.#systemPrompt = optionValue(rules.systemPrompt, options.systemPrompt);
    this.#realign = resolveRealign(options);
    this.#sampling = resolveSampling(options.sampling);
    this.#preferences = resolvePreferences(options.preferences);
    this.#history = checkMessages(options.history, 'history');
    this.#realignOn = optionValue(rules.realignOn, options.realignOn);
    this.#contextOverflow = optionValue(rules.contextOverflow, options.contextOverflow);
  }

  /** The conversation so far (user and assistant messages, oldest first). */
  get history(): readonly ChatMessage[] {
    return this.#history.map((message) => ({ ...message }));
  }

  /** The session's preferences. */
  get preferences(): readonly Required<Preference>[] {
    return this.#preferences.map((preference) => ({ ...preference }));
  }

  /** The session's realignment method. */
  get method(): RealignMethod {
    return this.#realign.method;
  }

  /** True once {@link Session.dispose} has been called. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * Replaces the preferences used by the following prompts. The next prompt
   * evaluates the conversation again only on the sequences whose preference
   * changed.
   */
  setPreferences(preferences: readonly PreferenceInput[]): void {
    this.#checkAlive();
    this.#preferences = resolvePreferences(preferences);
  }

  /** Forgets the conversation (the system prompt and preferences stay). */
  clearHistory(): void {
    this.#checkAlive();
    this.#history = [];
    this.#historyVersion += 1;
  }

  /**
   * Replaces the conversation the following prompts continue (validated as
   * the `history` option of {@link Model.createSession}). The KV cache stays:
   * the next prompt evaluates only what follows the longest token prefix each
   * sequence shares with its new prompt, so one session can serve one
   * conversation after another and resume each cheaply.
   *
   * @throws AmuletError ERR_INVALID_OPTION for a malformed message, ERR_DISPOSED.
   */
  setHistory(history: readonly ChatMessage[]): void {
    this.#checkAlive();
    // Unlike the `history` option, which may be left out, the argument is required.
    if (history === undefined) throw new AmuletError('ERR_INVALID_OPTION', 'history must be an array of messages');
    this.#history = checkMessages(history, 'history');
    this.#historyVersion += 1;
  }

  /**
   * Asks the model; returns a stream of text chunks that is also a promise
   * of the {@link GenerationResult}. Invalid options throw at once.
   */
  prompt(text: string, options: PromptOptions = {}): GenerationStream {
    this.#checkAlive();
    if (typeof text !== 'string') throw new AmuletError('ERR_INVALID_OPTION', 'the prompt text must be a string');
    const settings = objectOption('options', options);
    const realign = resolveRealign(settings, this.#realign);
    const preferences = settings.preferences === undefined ? this.#preferences : resolvePreferences(settings.preferences);
    checkMethodPreferences(realign.method, preferences);
    checkRealignCoefficients(realign, preferences);
    const maxTokens = optionValue(rules.maxTokens, settings.maxTokens);
    const signal = settings.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new AmuletError('ERR_INVALID_OPTION', 'signal must be an AbortSignal');
    }
    const request = {
      systemPrompt: optionValue(rules.systemPrompt, settings.systemPrompt, this.#systemPrompt),
      preferences,
      realign,
      sampling: resolveSampling(settings.sampling, this.#sampling),
      maxTokens,
      trace: optionValue(rules.trace, settings.trace),
      captureLogits: optionValue(rules.captureLogits, settings.captureLogits),
      realignOn: optionValue(rules.realignOn, settings.realignOn, this.#realignOn),
      contextOverflow: this.#contextOverflow,
      ...resolveOutputControls(settings, this.#vocabularySize),
    };
    let sentVersion: number | undefined;
    // Prompts run one after another: each starts once every prompt before it has ended.
    const previous = this.#queue.at(-1);
    const ready = previous ? previous.released : Promise.resolve();
    const stream: GenerationStream = new GenerationStream({
      ready,
      start: () => {
        this.#checkAlive();
        // Built when the prompt starts: a queued prompt sees the exchanges before it.
        sentVersion = this.#historyVersion;
        return this.#native.generate({
          ...request,
          systemPrompt: cString(request.systemPrompt),
          preferences: request.preferences.map((preference) => ({ ...preference, text: cString(preference.text) })),
          turns: [...this.#history, { role: 'user' as const, content: text }]
            .map((message) => ({ ...message, content: cString(message.content) })),
        });
      },
      method: realign.method,
      signal,
      onComplete: (result) => {
        // Messages dropped to fit the context leave the history too (unless it was cleared meanwhile).
        if (this.#historyVersion === sentVersion) this.#history.splice(0, result.droppedMessageCount);
        this.#history.push({ role: 'user', content: text }, { role: 'assistant', content: result.text });
      },
    });
    this.#queue.push(stream);
    void stream.settled.then(() => this.#queue.splice(this.#queue.indexOf(stream), 1));
    return stream;
  }

  /** Aborts a running prompt, waits for it to stop, and frees the session's native memory. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    const queue = [...this.#queue];
    for (const stream of queue) stream.abort();
    await Promise.all(queue.map((stream) => stream.settled));
    this.#native.dispose();
    this.#onDispose(this);
  }

  /** Disposes it, for `await using`: the same as `dispose()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  #checkAlive(): void {
    if (this.#disposed) throw new AmuletError('ERR_DISPOSED', 'the session has been disposed');
  }
}
