/**
 * The page's client of the server: the API key (asked for when the server
 * wants one, kept for this tab only), JSON reads, and chat completions
 * streamed over the server's own `/v1/chat/completions`.
 */
import type { TokenTrace } from './trace-format.js';

/** A message of the conversation, as the OpenAI API takes it. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** The `amulet` object of a request. */
export interface AmuletFields {
  method: string;
  alpha?: number;
  ratio?: number;
  plausibility?: number;
  trace?: boolean;
}

export interface ChatBody {
  messages: ChatMessage[];
  preferences: { text: string; weight: number }[];
  amulet: AmuletFields;
  max_tokens?: number;
  temperature?: number;
}

/** How a streamed answer went. */
export interface StreamResult {
  text: string;
  finishReason: string;
  method: string;
  guidanceScale: number;
  completionTokens: number;
  /** Tokens per second as they arrived, from the first to the last; undefined below two tokens. */
  tokensPerSecond: number | undefined;
}

/** The server refused for want of the right API key. */
export class KeyNeeded extends Error {}

/** The server answered with an error (its message, in OpenAI's error shape). */
export class ServerError extends Error {}

const keyItem = 'amulet-playground-api-key';

interface Chunk {
  choices?: { delta?: { content?: string }; finish_reason?: string | null }[];
  usage?: { completion_tokens: number } | null;
  amulet?: { trace?: TokenTrace[]; method?: string; guidance_scale?: number };
  error?: { message: string };
}

export class Api {
  /** The key sent as `Authorization: Bearer`, once the user gave one. */
  get key(): string | undefined {
    return sessionStorage.getItem(keyItem) ?? undefined;
  }

  set key(value: string | undefined) {
    if (value === undefined) sessionStorage.removeItem(keyItem);
    else sessionStorage.setItem(keyItem, value);
  }

  async getJson<T>(path: string): Promise<T> {
    return (await this.#send(path, { method: 'GET' })).json() as Promise<T>;
  }

  /**
   * Streams a chat completion; `onText` gets each piece of text with the
   * traces of its tokens (empty without `amulet.trace`).
   */
  async streamChat(body: ChatBody, onText: (text: string, traces: TokenTrace[]) => void,
    signal?: AbortSignal): Promise<StreamResult> {
    const response = await this.#send('v1/chat/completions', {
      method: 'POST', signal, headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
    });
    const result: StreamResult = {
      text: '', finishReason: '', method: body.amulet.method, guidanceScale: NaN, completionTokens: 0,
      tokensPerSecond: undefined,
    };
    let first = 0;
    let last = 0;
    for await (const chunk of events(response)) {
      if (chunk.error) throw new ServerError(chunk.error.message);
      const choice = chunk.choices?.[0];
      const text = choice?.delta?.content ?? '';
      const traces = chunk.amulet?.trace ?? [];
      if (text !== '' || traces.length > 0) {
        last = performance.now();
        first ||= last;
        result.text += text;
        onText(text, traces);
      }
      if (choice?.finish_reason) result.finishReason = choice.finish_reason;
      if (chunk.amulet?.method !== undefined) {
        result.method = chunk.amulet.method;
        result.guidanceScale = chunk.amulet.guidance_scale ?? NaN;
      }
      if (chunk.usage) result.completionTokens = chunk.usage.completion_tokens;
    }
    if (result.completionTokens > 1 && last > first) {
      result.tokensPerSecond = ((result.completionTokens - 1) * 1000) / (last - first);
    }
    return result;
  }

  /** `path` is relative to the page, so the page also works behind a proxy that serves the server under a folder. */
  async #send(path: string, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    const key = this.key;
    if (key !== undefined) headers.set('Authorization', `Bearer ${key}`);
    const response = await fetch(path, { ...init, headers });
    if (response.status === 401) throw new KeyNeeded('this server needs an API key');
    if (!response.ok) {
      const error = await response.json().catch(() => undefined) as Chunk | undefined;
      throw new ServerError(error?.error?.message ?? `${response.status} ${response.statusText}`);
    }
    return response;
  }
}

/** The JSON objects of a response's server-sent events, up to `[DONE]`. */
async function* events(response: Response): AsyncGenerator<Chunk> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data: ')) continue;
        const data = line.slice('data: '.length);
        if (data === '[DONE]') return;
        yield JSON.parse(data) as Chunk;
      }
    }
  }
}
