/**
 * {@link Context}: one llama.cpp context whose sessions decode together, as
 * the slots of llama.cpp's server do.
 *
 * @packageDocumentation
 */
import { availableParallelism } from 'node:os';
import type { NativeContext, NativeContextOptions } from './addon-types';
import type { ContextMetrics } from './context-metrics';
import { AmuletError } from './errors';
import { rules } from './option-rules';
import { objectOption, optionValue } from './options';
import { Session, type SessionOptions } from './session';

/** Options of {@link Model.createContext}. */
export interface ContextOptions {
  /**
   * KV sequences the context holds for all its sessions (default 8). A
   * realigned generation decodes one sequence plus one per preference, a
   * plain one (`base`, `pref`) one; a generation that finds too few idle
   * sequences waits for others to end.
   */
  sequences?: number;
  /** The most tokens one sequence holds: one conversation's bound (default 4096). */
  contextSize?: number;
  /**
   * KV cells all the sequences share (default `contextSize × sequences`).
   * Less lets more conversations share less memory: when a step finds no
   * free cell, idle sequences lose their cache first (least recently used
   * first), then the generation that started last fails with
   * `ERR_CONTEXT_FULL`.
   */
  cacheSize?: number;
  /** CPU threads of the decode thread's steps (default: one per hardware thread). */
  threads?: number;
  /** The most tokens one decode step carries (default 512): a long prompt is evaluated in such chunks. */
  batchSize?: number;
}

/** The options of a session on a shared context: those of {@link SessionOptions} but the context's own sizes. */
export type ContextSessionOptions = Omit<SessionOptions, 'contextSize' | 'threads' | 'batchSize'>;

const SIZE_OPTIONS = ['contextSize', 'threads', 'batchSize'] as const;

let warnedThreads = false;

/**
 * The native sizes of a context. More threads than the machine has make the
 * decode threads spin against each other: allowed when asked for, with a
 * process warning once.
 */
export function nativeContextOptions(options: ContextOptions, sequences: number): NativeContextOptions {
  const threads = optionValue(rules.threads, options.threads);
  const cores = availableParallelism();
  if (threads > cores && !warnedThreads) {
    warnedThreads = true;
    process.emitWarning(`threads: ${threads} is more than this machine's ${cores} hardware threads; decoding will ` +
      'be slower than with fewer', { code: 'AMULET_THREADS' });
  }
  return {
    contextSize: optionValue(rules.contextSize, options.contextSize),
    threads,
    batchSize: optionValue(rules.batchSize, options.batchSize),
    sequences,
    cacheSize: optionValue(rules.cacheSize, options.cacheSize),
  };
}

/**
 * A llama.cpp context shared by many sessions: their generations decode
 * together, one batched llama_decode per step on one decode thread, each
 * sampling (and realigning) its own rows. Four conversations then cost little
 * more than one, where four sessions of their own would take turns.
 *
 * Lifetimes nest: a {@link Model} outlives its contexts, a context its
 * sessions, a session its generations. Each session keeps the KV sequences
 * its last turn used, so its next turn evaluates only what is new, as a
 * session of its own does. The context's memory (its KV cache) is allocated
 * by the first generation, off the JavaScript thread.
 */
export class Context {
  /** KV sequences shared by the sessions. */
  readonly sequences: number;
  /** The most tokens one sequence holds. */
  readonly contextSize: number;
  readonly #native: NativeContext;
  readonly #vocabularySize: number;
  readonly #sessions = new Set<Session>();
  readonly #onDispose: (context: Context) => void;
  #disposed = false;

  /** @internal Created by {@link Model.createContext}. */
  constructor(native: NativeContext, options: NativeContextOptions, vocabularySize: number,
    onDispose: (context: Context) => void) {
    this.#native = native;
    this.sequences = options.sequences;
    this.contextSize = options.contextSize;
    this.#vocabularySize = vocabularySize;
    this.#onDispose = onDispose;
  }

  /** True once {@link Context.dispose} has been called. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * A new conversation decoding on this context (cheap: no memory is
   * committed until its first prompt).
   *
   * @throws AmuletError ERR_INVALID_OPTION (also for `contextSize`, `threads`
   *   or `batchSize`, which are the context's), ERR_DISPOSED.
   */
  createSession(options: ContextSessionOptions = {}): Session {
    if (this.#disposed) throw new AmuletError('ERR_DISPOSED', 'the context has been disposed');
    const settings = objectOption('options', options);
    for (const name of SIZE_OPTIONS) {
      if ((settings as SessionOptions)[name] !== undefined) {
        throw new AmuletError('ERR_INVALID_OPTION',
          `${name} is an option of the context (model.createContext), not of a session on it`);
      }
    }
    const native = this.#native.createSession();
    let session: Session | undefined;
    try {
      session = new Session(native, this.#vocabularySize, settings, (disposed) => this.#sessions.delete(disposed));
    } finally {
      if (!session) native.dispose();
    }
    this.#sessions.add(session);
    return session;
  }

  /** The decode loop's counters and load (e.g. for a server's /metrics). @throws AmuletError ERR_DISPOSED. */
  metrics(): ContextMetrics {
    if (this.#disposed) throw new AmuletError('ERR_DISPOSED', 'the context has been disposed');
    return this.#native.metrics();
  }

  /** Disposes every session of the context (each aborts what it runs), then frees the context. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await Promise.all([...this.#sessions].map((session) => session.dispose()));
    this.#native.dispose();
    this.#onDispose(this);
  }

  /** Disposes it, for `await using`: the same as `dispose()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}
