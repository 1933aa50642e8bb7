/**
 * {@link SlotPool}: the server's slots (one session each) and the bounded
 * queue of requests waiting for one. A request goes to the idle slot whose
 * last conversation shares the longest run of leading messages with its
 * own, so a conversation's next turn finds its KV cache where it left it;
 * a new conversation goes to the least recently used slot.
 *
 * @packageDocumentation
 */
import type { ChatMessage } from '../session';
import { ApiError } from './api-error';

/** A conversation as a slot last held it: the system prompt and the messages after it. */
export interface Conversation {
  systemPrompt: string;
  messages: readonly ChatMessage[];
}

/** How many leading messages two conversations share, the system prompt counted as the first; 0 if it differs. */
export function sharedMessages(a: Conversation, b: Conversation): number {
  if (a.systemPrompt !== b.systemPrompt) return 0;
  let shared = 0;
  const length = Math.min(a.messages.length, b.messages.length);
  while (shared < length && a.messages[shared]!.role === b.messages[shared]!.role &&
    a.messages[shared]!.content === b.messages[shared]!.content) shared += 1;
  return shared + 1;
}

/** One slot: what it serves with (a session), and the conversation its KV cache last held. */
export interface Slot<T> {
  readonly index: number;
  readonly resource: T;
  conversation: Conversation | undefined;
}

interface SlotState<T> {
  slot: Slot<T>;
  busy: boolean;
  /** When it was last handed out, as a counter: the least recently used slot has the smallest. */
  lastUsed: number;
}

interface Waiter<T> {
  conversation: Conversation;
  resolve: (slot: Slot<T>) => void;
  reject: (error: unknown) => void;
}

/** The pool's load, as /health reports it. */
export interface PoolStatus {
  /** Slots of the server. */
  slots: number;
  /** Slots serving a request now. */
  busy: number;
  /** Requests waiting for a slot. */
  queued: number;
  /** The most requests that may wait. */
  queueSize: number;
}

/** Seconds a refused client is told to wait before trying again. */
const RETRY_AFTER_SECONDS = 1;

/**
 * N slots, each serving one request at a time, and a FIFO queue of at most
 * `queueSize` requests. A released slot goes to the request at the head of
 * the queue; a request that finds the queue full is refused with a 503.
 */
export class SlotPool<T> {
  readonly #states: SlotState<T>[];
  readonly #queue: Waiter<T>[] = [];
  readonly #queueSize: number;
  #clock = 0;
  #closed: ApiError | undefined;

  constructor(resources: readonly T[], queueSize: number) {
    this.#states = resources.map((resource, index) => ({
      slot: { index, resource, conversation: undefined }, busy: false, lastUsed: 0,
    }));
    this.#queueSize = queueSize;
  }

  /** Each slot and whether a request holds it now, in index order (for /slots). */
  slotStates(): { slot: Slot<T>; busy: boolean }[] {
    return this.#states.map(({ slot, busy }) => ({ slot, busy }));
  }

  status(): PoolStatus {
    return {
      slots: this.#states.length,
      busy: this.#states.filter((state) => state.busy).length,
      queued: this.#queue.length,
      queueSize: this.#queueSize,
    };
  }

  /**
   * A slot for `conversation`: at once when one is idle (see `#pick`), else
   * when its turn in the queue comes. Rejects with a 503 when the queue is full or
   * the pool closes, and with `signal`'s reason when it fires while waiting.
   */
  acquire(conversation: Conversation, signal: AbortSignal): Promise<Slot<T>> {
    if (this.#closed) return Promise.reject(this.#closed);
    if (signal.aborted) return Promise.reject(signal.reason);
    const idle = this.#pick(conversation);
    if (idle) return Promise.resolve(this.#take(idle));
    if (this.#queue.length >= this.#queueSize) {
      return Promise.reject(new ApiError(503,
        `all ${this.#states.length} slots are busy and ${this.#queueSize} requests are waiting; try again later`,
        { code: 'server_overloaded', headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) } }));
    }
    return new Promise<Slot<T>>((resolve, reject) => {
      const onAbort = (): void => {
        const position = this.#queue.indexOf(waiter);
        if (position >= 0) this.#queue.splice(position, 1);
        reject(signal.reason);
      };
      const waiter: Waiter<T> = {
        conversation,
        resolve: (slot) => {
          signal.removeEventListener('abort', onAbort);
          resolve(slot);
        },
        reject: (error) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(waiter);
    });
  }

  /** Hands a slot back, recording the conversation its cache now holds; the head of the queue gets it. */
  release(slot: Slot<T>, conversation: Conversation | undefined): void {
    const state = this.#states[slot.index]!;
    slot.conversation = conversation;
    state.busy = false;
    const next = this.#queue.shift();
    if (next) next.resolve(this.#take(state));
  }

  /** Refuses every waiting and later request with `error`. */
  close(error: ApiError): void {
    this.#closed = error;
    for (const waiter of this.#queue.splice(0)) waiter.reject(error);
  }

  /**
   * The idle slot sharing the most leading messages with `conversation`, if
   * it shares more than the system prompt; else the least recently used idle
   * slot (an unused one first), so a new conversation does not evict another
   * whose cache it could not use.
   */
  #pick(conversation: Conversation): SlotState<T> | undefined {
    let best: SlotState<T> | undefined;
    let bestShared = 1;
    let oldest: SlotState<T> | undefined;
    for (const state of this.#states) {
      if (state.busy) continue;
      if (!oldest || state.lastUsed < oldest.lastUsed) oldest = state;
      const shared = state.slot.conversation ? sharedMessages(state.slot.conversation, conversation) : 0;
      if (shared > bestShared || (shared === bestShared && best && state.lastUsed < best.lastUsed)) {
        best = state;
        bestShared = shared;
      }
    }
    return best ?? oldest;
  }

  #take(state: SlotState<T>): Slot<T> {
    state.busy = true;
    this.#clock += 1;
    state.lastUsed = this.#clock;
    return state.slot;
  }
}
