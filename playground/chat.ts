/**
 * The chat view: a conversation with the model, each answer streamed in as
 * it is decoded (realigned toward the panel's preferences), with what it
 * cost; Stop ends an answer, Reset forgets the conversation.
 */
import type { ChatMessage, StreamResult } from './api.js';
import { AnswerView } from './answer-view.js';
import type { PageContext } from './page-context.js';

/** "amulet (s = 1.53) · 24 tokens · 31.2 tok/s": how an answer was made. */
export function statsLine(result: StreamResult): string {
  const parts = [Number.isFinite(result.guidanceScale) && result.guidanceScale > 0
    ? `${result.method} (s = ${result.guidanceScale.toFixed(2)})` : result.method];
  parts.push(`${result.completionTokens} tokens`);
  if (result.tokensPerSecond !== undefined) parts.push(`${result.tokensPerSecond.toFixed(1)} tok/s`);
  if (result.finishReason === 'length') parts.push('cut at max tokens');
  return parts.join(' · ');
}

export class ChatView {
  readonly #page: PageContext;
  readonly #messages = document.getElementById('messages')!;
  readonly #input = document.getElementById('chat-input') as HTMLTextAreaElement;
  readonly #send = document.getElementById('send') as HTMLButtonElement;
  readonly #stop = document.getElementById('stop') as HTMLButtonElement;
  #history: ChatMessage[] = [];
  #running: AbortController | undefined;

  constructor(page: PageContext) {
    this.#page = page;
    document.getElementById('chat-form')!.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.#ask();
    });
    this.#input.addEventListener('keydown', (event) => {
      // Enter sends, Shift+Enter starts a new line, as in most chat pages.
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        void this.#ask();
      }
    });
    this.#stop.addEventListener('click', () => this.#running?.abort());
    document.getElementById('reset')!.addEventListener('click', () => this.reset());
  }

  /** Forgets the conversation (stopping an answer on its way). */
  reset(): void {
    this.#running?.abort();
    this.#running = undefined;
    this.#send.disabled = false;
    this.#stop.hidden = true;
    this.#history = [];
    this.#messages.replaceChildren();
    this.#input.focus();
  }

  #bubble(role: 'user' | 'assistant'): HTMLElement {
    const bubble = document.createElement('article');
    bubble.className = `message ${role}`;
    this.#messages.append(bubble);
    return bubble;
  }

  async #ask(): Promise<void> {
    const question = this.#input.value.trim();
    if (question === '' || this.#running) return;
    this.#input.value = '';
    const user = this.#bubble('user');
    user.textContent = question;
    const bubble = this.#bubble('assistant');
    const answer = new AnswerView(this.#page.render);
    const stats = document.createElement('p');
    stats.className = 'stats';
    stats.textContent = 'waiting for a slot…';
    bubble.append(answer.element, stats);
    bubble.scrollIntoView({ block: 'end' });
    const running = new AbortController();
    this.#running = running;
    this.#send.disabled = true;
    this.#stop.hidden = false;
    const messages: ChatMessage[] = [...this.#history, { role: 'user', content: question }];
    try {
      const result = await this.#page.api.streamChat(
        { messages: [...this.#page.settings.systemMessages(), ...messages], ...this.#page.settings.request({ trace: true }) },
        (text, traces) => {
          answer.append(text, traces);
          stats.textContent = 'answering…';
        },
        running.signal);
      answer.flush();
      stats.textContent = statsLine(result);
      this.#history = [...messages, { role: 'assistant', content: result.text }];
    } catch (error) {
      if (running.signal.aborted) {
        // What arrived before Stop stays, as the answer the conversation goes on from.
        answer.flush();
        stats.textContent = 'stopped';
        if (this.#running === running) this.#history = [...messages, { role: 'assistant', content: answer.text }];
      } else {
        answer.fail(this.#page.keyNeeded(error) ? 'the API key is needed' : (error as Error).message);
        stats.textContent = '';
      }
    } finally {
      if (this.#running === running) {
        this.#running = undefined;
        this.#send.disabled = false;
        this.#stop.hidden = true;
      }
    }
  }
}
