/**
 * One answer on the page, shown two ways as it streams in: as Markdown, and
 * (when its request asked for the trace) as its tokens, each shaded by how
 * far the realignment moved it. The body's `show-tokens` class picks the way.
 */
import { traceMark, type TokenTrace } from './trace-format.js';
import { tracesOf } from './token-tooltip.js';

export class AnswerView {
  readonly element: HTMLElement;
  readonly #markdown: HTMLElement;
  readonly #tokens: HTMLElement;
  readonly #render: (source: string) => string;
  #text = '';
  #pending = false;

  constructor(render: (source: string) => string) {
    this.#render = render;
    this.element = document.createElement('div');
    this.element.className = 'answer';
    this.#markdown = document.createElement('div');
    this.#markdown.className = 'markdown';
    this.#tokens = document.createElement('div');
    this.#tokens.className = 'tokens';
    this.element.append(this.#markdown, this.#tokens);
  }

  get text(): string {
    return this.#text;
  }

  /** Adds a piece of the answer; its traces (if any) make it one shaded token of the token view. */
  append(text: string, traces: readonly TokenTrace[]): void {
    this.#text += text;
    if (traces.length > 0) {
      this.element.classList.add('traced');
      const token = document.createElement('span');
      token.className = 'token';
      token.tabIndex = 0;
      token.textContent = text;
      const mark = traceMark(traces);
      token.style.setProperty('--shade', mark.shade.toFixed(3));
      if (mark.changed) token.classList.add('changed');
      tracesOf.set(token, [...traces]);
      this.#tokens.append(token);
    } else {
      this.#tokens.append(text);
    }
    // Markdown is rendered again at most once a frame, however many pieces arrive.
    if (this.#pending) return;
    this.#pending = true;
    requestAnimationFrame(() => this.flush());
  }

  /** Renders the Markdown of the text so far now. */
  flush(): void {
    this.#pending = false;
    // markdown-it with raw HTML off escapes every tag of the answer (see markdown.ts).
    this.#markdown.innerHTML = this.#render(this.#text);
  }

  /** Shows why the answer failed, after what had arrived. */
  fail(message: string): void {
    this.flush();
    const error = document.createElement('p');
    error.className = 'error';
    error.textContent = message;
    this.element.append(error);
  }
}
