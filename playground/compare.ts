/**
 * The compare view: one question answered three ways at once, streamed side
 * by side: `base` (the prompt without the preferences), `pref` (with them,
 * not realigned) and the realigned answer (the panel's method, amulet
 * unless it is la), whose tokens the token view shades.
 */
import { AnswerView } from './answer-view.js';
import { statsLine } from './chat.js';
import type { PageContext } from './page-context.js';

const captions: Readonly<Record<string, string>> = {
  base: 'the prompt without the preferences',
  pref: 'the preferences in the prompt, not realigned',
};

export class CompareView {
  readonly #page: PageContext;
  readonly #columns = document.getElementById('columns')!;
  readonly #input = document.getElementById('compare-input') as HTMLInputElement;
  readonly #run = document.getElementById('compare-run') as HTMLButtonElement;
  readonly #note = document.getElementById('compare-note')!;

  constructor(page: PageContext, slots: number) {
    this.#page = page;
    if (slots < 3) {
      this.#note.textContent = `This server decodes ${slots} request${slots === 1 ? '' : 's'} at a time ` +
        '(amulet serve --parallel): the three answers take turns. Start it with --parallel 3 to stream them together.';
    }
    document.getElementById('compare-form')!.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.#compare();
    });
  }

  async #compare(): Promise<void> {
    const question = this.#input.value.trim();
    if (question === '') return;
    if (!this.#page.settings.hasPreferences()) {
      this.#note.textContent = 'Add a preference first: without one, all three answers are the same plain decoding.';
      return;
    }
    this.#run.disabled = true;
    const realigned = this.#page.settings.realigningMethod();
    const messages = [...this.#page.settings.systemMessages(), { role: 'user' as const, content: question }];
    this.#columns.replaceChildren();
    await Promise.all(['base', 'pref', realigned].map(async (method) => {
      const column = document.createElement('section');
      column.className = `column ${method === realigned ? 'realigned' : method}`;
      const title = document.createElement('h3');
      title.textContent = method;
      const caption = document.createElement('p');
      caption.className = 'caption';
      caption.textContent = captions[method] ?? 'realigned toward the preferences';
      const stats = document.createElement('p');
      stats.className = 'stats';
      stats.textContent = 'waiting for a slot…';
      const answer = new AnswerView(this.#page.render);
      column.append(title, caption, stats, answer.element);
      this.#columns.append(column);
      try {
        const result = await this.#page.api.streamChat(
          { messages, ...this.#page.settings.request({ method, trace: method === realigned }) },
          (text, traces) => {
            answer.append(text, traces);
            stats.textContent = 'answering…';
          });
        answer.flush();
        stats.textContent = statsLine(result);
      } catch (error) {
        stats.textContent = '';
        answer.fail(this.#page.keyNeeded(error) ? 'the API key is needed' : (error as Error).message);
      }
    }));
    this.#run.disabled = false;
  }
}
