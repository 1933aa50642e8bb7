/**
 * The settings panel: the preferences (text and weight, negative to steer
 * away), the method, α, τ and, for `la`, the ratio, and the decoding
 * settings; the guidance scale s they amount to, as the server computes it.
 * Kept in the browser between visits; the server's defaults the first time.
 */
import { KeyNeeded, type AmuletFields, type Api, type ChatMessage } from './api.js';

/** What the server reports of itself (`GET /playground/api/settings`). */
export interface ServerSettings {
  model: string;
  method: string;
  alpha: number;
  ratio: number;
  plausibility: number;
  preferences: { text: string; weight: number }[];
  slots: number;
}

interface Values {
  preferences: { text: string; weight: number }[];
  method: string;
  alpha: number;
  ratio: number;
  plausibility: number;
  systemPrompt: string;
  /** undefined: the server's (`--max-tokens`). */
  maxTokens: number | undefined;
  temperature: number;
}

/** What a request takes from the settings. */
export interface RequestFields {
  preferences: { text: string; weight: number }[];
  amulet: AmuletFields;
  max_tokens?: number;
  temperature: number;
}

const storageItem = 'amulet-playground-settings';
const realigning = new Set(['amulet', 'amulet-iterative', 'la']);

function input<T extends HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

/** A number field's value, or the fallback when it holds no number. */
function numberOf(field: HTMLInputElement, fallback: number): number {
  return Number.isFinite(field.valueAsNumber) ? field.valueAsNumber : fallback;
}

export class Settings {
  readonly #api: Api;
  readonly #list = input<HTMLUListElement>('preferences');
  readonly #method = input<HTMLSelectElement>('method');
  readonly #alpha = input<HTMLInputElement>('alpha');
  readonly #ratio = input<HTMLInputElement>('ratio');
  readonly #plausibility = input<HTMLInputElement>('plausibility');
  readonly #systemPrompt = input<HTMLTextAreaElement>('system-prompt');
  readonly #maxTokens = input<HTMLInputElement>('max-tokens');
  readonly #temperature = input<HTMLInputElement>('temperature');
  readonly #scale = input<HTMLElement>('scale');
  #scaleRequest = 0;

  constructor(api: Api, server: ServerSettings) {
    this.#api = api;
    const stored = localStorage.getItem(storageItem);
    const values: Values = {
      preferences: server.preferences, method: server.method, alpha: server.alpha, ratio: server.ratio,
      plausibility: server.plausibility, systemPrompt: '', maxTokens: undefined, temperature: 0,
      ...(stored ? JSON.parse(stored) as Partial<Values> : {}),
    };
    for (const preference of values.preferences) this.#addRow(preference);
    this.#method.value = values.method;
    this.#alpha.value = String(values.alpha);
    this.#ratio.value = String(values.ratio);
    this.#plausibility.value = String(values.plausibility);
    this.#systemPrompt.value = values.systemPrompt;
    this.#maxTokens.value = values.maxTokens === undefined ? '' : String(values.maxTokens);
    this.#temperature.value = String(values.temperature);
    input<HTMLButtonElement>('add-preference').addEventListener('click', () => {
      this.#addRow({ text: '', weight: 1 }).querySelector('input')!.focus();
    });
    input<HTMLElement>('settings').addEventListener('input', () => this.#changed());
    this.#changed();
  }

  /** The system message, when one is set. */
  systemMessages(): ChatMessage[] {
    const text = this.#systemPrompt.value.trim();
    return text === '' ? [] : [{ role: 'system', content: text }];
  }

  /**
   * The request fields for `method` (the panel's by default). Without a
   * preference every request is plain decoding; `trace` asks for the token
   * view's trace where there is a preference to compare with.
   */
  request(options: { method?: string; trace: boolean }): RequestFields {
    const values = this.#values();
    const method = values.preferences.length === 0 ? 'base' : options.method ?? values.method;
    return {
      preferences: values.preferences,
      amulet: {
        method, alpha: values.alpha, ratio: values.ratio, plausibility: values.plausibility,
        trace: options.trace && values.preferences.length > 0,
      },
      ...(values.maxTokens === undefined ? {} : { max_tokens: values.maxTokens }),
      temperature: values.temperature,
    };
  }

  /** The method of the compare view's realigned column: the panel's when it realigns, else amulet. */
  realigningMethod(): string {
    return realigning.has(this.#method.value) ? this.#method.value : 'amulet';
  }

  hasPreferences(): boolean {
    return this.#values().preferences.length > 0;
  }

  #addRow(preference: { text: string; weight: number }): HTMLLIElement {
    const row = document.createElement('li');
    const text = document.createElement('input');
    text.type = 'text';
    text.className = 'preference-text';
    text.placeholder = 'e.g. Your answer should be concise.';
    text.setAttribute('aria-label', 'preference');
    text.value = preference.text;
    const weight = document.createElement('input');
    weight.type = 'number';
    weight.className = 'preference-weight';
    weight.step = '0.1';
    weight.title = 'weight (negative: steer away from it)';
    weight.setAttribute('aria-label', 'weight');
    weight.value = String(preference.weight);
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'remove';
    remove.textContent = '×';
    remove.title = 'remove this preference';
    remove.addEventListener('click', () => {
      row.remove();
      this.#changed();
    });
    row.append(text, weight, remove);
    this.#list.append(row);
    return row;
  }

  #values(): Values {
    const preferences = [...this.#list.children].map((row) => ({
      text: (row.querySelector('.preference-text') as HTMLInputElement).value.trim(),
      weight: numberOf(row.querySelector('.preference-weight') as HTMLInputElement, 1),
    })).filter((preference) => preference.text !== '');
    return {
      preferences, method: this.#method.value, alpha: numberOf(this.#alpha, 1.3), ratio: numberOf(this.#ratio, 2),
      plausibility: numberOf(this.#plausibility, 0), systemPrompt: this.#systemPrompt.value,
      maxTokens: Number.isFinite(this.#maxTokens.valueAsNumber)
        ? Math.max(1, Math.round(this.#maxTokens.valueAsNumber)) : undefined,
      temperature: numberOf(this.#temperature, 0),
    };
  }

  #changed(): void {
    const values = this.#values();
    localStorage.setItem(storageItem, JSON.stringify(values));
    const method = values.method;
    input<HTMLElement>('alpha-field').hidden = method !== 'amulet' && method !== 'amulet-iterative';
    input<HTMLElement>('ratio-field').hidden = method !== 'la';
    void this.#showScale(values);
  }

  /** Asks the server for s; a later change supersedes an answer still on its way. */
  async #showScale(values: Values): Promise<void> {
    const request = ++this.#scaleRequest;
    if (values.preferences.length === 0) {
      this.#scale.textContent = 'No preference: answers are plain decoding (base).';
      return;
    }
    const query = new URLSearchParams({ method: values.method, alpha: String(values.alpha), ratio: String(values.ratio) });
    let text: string;
    try {
      const { guidance_scale: scale } = await this.#api.getJson<{ guidance_scale: number }>(
        `playground/api/guidance-scale?${query}`);
      text = `guidance scale s = ${scale.toFixed(4)}: softmax(l_p + s (l_p − l_b))`;
    } catch (error) {
      text = `guidance scale: ${error instanceof KeyNeeded ? 'the API key is needed' : (error as Error).message}`;
    }
    if (request === this.#scaleRequest) this.#scale.textContent = text;
  }
}
