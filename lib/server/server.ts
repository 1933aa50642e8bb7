/**
 * {@link createServer}: an OpenAI-compatible HTTP server over one model,
 * whose chat completions can be realigned toward preferences (the
 * `preferences` and `amulet` extension fields, or the server's defaults).
 *
 * @packageDocumentation
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setMaxListeners } from 'node:events';
import type { AddressInfo } from 'node:net';
import { basename } from 'node:path';
import type { NativeRealign } from '../addon-types';
import type { Context, ContextOptions } from '../context';
import { AmuletError } from '../errors';
import type { Model } from '../model';
import { rules } from '../option-rules';
import {
  checkMethodPreferences,
  checkRealignCoefficients,
  objectOption,
  optionValue,
  resolvePreferences,
  resolveRealign,
  type RealignOptions,
} from '../options';
import type { PromptOptions, Session, SessionOptions } from '../session';
import { ApiError, apiErrorOf } from './api-error';
import { ApiKeyCheck } from './api-key';
import { serveChatCompletion, type ChatDefaults, type CompletionRecord } from './chat-completion';
import { parseChatRequest } from './chat-request';
import { playgroundRoute } from './playground';
import { sendError, sendJson } from './json-response';
import { readJsonBody } from './request-body';
import { METRICS_CONTENT_TYPE, metricsText, type ServerCounters } from './metrics';
import { SlotPool, type PoolStatus } from './slot-pool';

/** Options of {@link createServer}. Realignment options are the defaults of requests that carry preferences. */
/**
 * Options of {@link createServer}: the context's sizes and the session's
 * options as the library states them, plus what only a server has. The
 * request defaults (system prompt, preferences, sampling, most tokens) take
 * the session's and prompt's types and apply to requests that do not set them.
 */
export interface ServerOptions extends RealignOptions, Pick<ContextOptions, 'contextSize' | 'threads' | 'batchSize'>,
  Pick<SessionOptions, 'realignOn'> {
  /** Address to listen on (default `'127.0.0.1'`: this machine only). */
  host?: string;
  /** TCP port (default 8080; 0 picks a free one, see {@link AmuletServer.url}). */
  port?: number;
  /**
   * Conversations decoded together (default 1): each request is served on
   * one of `parallel` sessions ("slots") of one shared context, whose
   * generations decode in one batched step.
   */
  parallel?: number;
  /**
   * KV sequences of the shared context (default `parallel × (1 + the
   * default preferences, at least 1)`: room for every slot to run a
   * realigned request). A request needing more than are idle waits for them.
   */
  sequences?: number;
  /**
   * KV cells the sequences share (default `contextSize × sequences`). Less
   * serves more conversations in less memory: when a step finds the cache
   * full, idle conversations lose their cache first, then the request that
   * started last fails with 400 `context_length_exceeded`.
   */
  cacheSize?: number;
  /** Requests that may wait for a slot (default 16); the server answers 503 with `Retry-After` beyond them. */
  queueSize?: number;
  /** The key `/v1` requests must send as `Authorization: Bearer <key>` (default `$AMULET_API_KEY`, else none). */
  apiKey?: string;
  /** The model id of `/v1/models` and of answers to requests that name none (default: the GGUF's file name). */
  modelName?: string;
  /** Largest request body read, in bytes (default 1 MiB); larger ones get 413. */
  maxBodyBytes?: number;
  /** The system prompt of requests without system or developer messages (default "You are a helpful assistant."). */
  systemPrompt?: SessionOptions['systemPrompt'];
  /** Preferences of requests without a `preferences` field (default none: plain generation). */
  preferences?: SessionOptions['preferences'];
  /** Sampling of requests that do not set it (default greedy). */
  sampling?: SessionOptions['sampling'];
  /** Most tokens of an answer when the request gives no `max_tokens` (default: until the context is full). */
  maxTokens?: PromptOptions['maxTokens'];
  /** Called once per request, after it has been answered and its slot freed (an access log). Exceptions are ignored. */
  onRequestEnd?: (record: ServerRequestRecord) => void;
}

/** One request as the server saw it. */
export interface ServerRequestRecord {
  /** The HTTP method. */
  method: string;
  /** The request's path, without the query. */
  path: string;
  /** The HTTP status sent (for a stream, that of its start); 499 when the client left before any answer. */
  status: number;
  /** From the request's arrival to its end, in ms. */
  durationMs: number;
  /** For a chat completion that got a slot: how its generation went. */
  completion?: CompletionRecord;
  /** For a 500: what failed, for the server's log (clients only see "internal server error"). */
  error?: string;
}

/** Where the server is and how busy it is. */
export interface ServerStatus extends PoolStatus {
  /** The URL it listens on, once listening. */
  url: string | undefined;
}

/** The status a record shows for a client that left before any answer (nginx's convention). */
const CLIENT_CLOSED_REQUEST = 499;

type Handler = (request: IncomingMessage, response: ServerResponse, signal: AbortSignal) => Promise<CompletionRecord | void>;

interface Route {
  methods: readonly string[];
  /** Whether the API key (when set) is required. */
  authenticated: boolean;
  handle: Handler;
}

/**
 * An OpenAI-compatible server over one model: `POST /v1/chat/completions`
 * (also streamed), `GET /v1/models`, `GET /health`, and for operators
 * `GET /metrics` (Prometheus) and `GET /slots`. Made by
 * {@link createServer}; {@link AmuletServer.listen} starts it and
 * {@link AmuletServer.close} stops it (the model stays loaded: it is the caller's).
 */
export class AmuletServer {
  readonly #http: Server;
  readonly #pool: SlotPool<Session>;
  readonly #context: Context;
  readonly #contextSize: number;
  readonly #counters = { requestsByStatus: new Map<number, number>(), completions: 0, promptTokens: 0,
    completionTokens: 0 } satisfies ServerCounters;
  /** The last completion each slot served, for /slots. */
  readonly #lastCompletion: (CompletionRecord | undefined)[];
  readonly #defaults: ChatDefaults;
  readonly #host: string;
  readonly #port: number;
  readonly #maxBodyBytes: number;
  readonly #vocabularySize: number;
  readonly #apiKey: ApiKeyCheck | undefined;
  readonly #onRequestEnd: ((record: ServerRequestRecord) => void) | undefined;
  readonly #closing = new AbortController();
  readonly #running = new Set<Promise<void>>();
  #url: string | undefined;
  #closed: Promise<void> | undefined;

  /** @internal Use {@link createServer}. */
  constructor(model: Model, options: ServerOptions) {
    const settings = objectOption('options', options);
    this.#host = optionValue(rules.host, settings.host);
    this.#port = optionValue(rules.port, settings.port);
    this.#maxBodyBytes = optionValue(rules.maxBodyBytes, settings.maxBodyBytes);
    const parallel = optionValue(rules.parallel, settings.parallel);
    const queueSize = optionValue(rules.queueSize, settings.queueSize);
    const apiKey = optionValue(rules.apiKey, settings.apiKey, process.env.AMULET_API_KEY ?? '');
    this.#apiKey = apiKey === '' ? undefined : new ApiKeyCheck(apiKey);
    const onRequestEnd = settings.onRequestEnd;
    if (onRequestEnd !== undefined && typeof onRequestEnd !== 'function') {
      throw new AmuletError('ERR_INVALID_OPTION', 'onRequestEnd must be a function');
    }
    this.#onRequestEnd = onRequestEnd;
    const contextSize = optionValue(rules.contextSize, settings.contextSize);
    const realign: NativeRealign = resolveRealign(settings);
    const preferences = resolvePreferences(settings.preferences);
    if (preferences.length > 0) {
      checkMethodPreferences(realign.method, preferences);
      checkRealignCoefficients(realign, preferences);
    }
    this.#defaults = {
      modelName: optionValue(rules.modelName, settings.modelName) || basename(model.path),
      systemPrompt: optionValue(rules.systemPrompt, settings.systemPrompt),
      preferences,
      realign,
      // A generation cannot outgrow its context, where it ends anyway.
      maxTokens: optionValue(rules.maxTokens, settings.maxTokens, contextSize),
    };
    this.#vocabularySize = model.info.vocabularySize;
    const sequences = optionValue(rules.sequences, settings.sequences,
      Math.min(rules.sequences.max ?? Infinity, parallel * (1 + Math.max(1, preferences.length))));
    this.#contextSize = contextSize;
    this.#context = model.createContext({
      sequences, contextSize, cacheSize: settings.cacheSize, threads: settings.threads, batchSize: settings.batchSize,
    });
    const sessionOptions = {
      ...realign, systemPrompt: this.#defaults.systemPrompt, sampling: settings.sampling, realignOn: settings.realignOn,
    };
    const sessions: Session[] = [];
    try {
      for (let index = 0; index < parallel; index += 1) sessions.push(this.#context.createSession(sessionOptions));
    } catch (error) {
      void this.#context.dispose();
      throw error;
    }
    this.#lastCompletion = sessions.map(() => undefined);
    this.#pool = new SlotPool(sessions, queueSize);
    // Every request in flight listens for the server closing.
    setMaxListeners(0, this.#closing.signal);
    this.#http = createHttpServer({ noDelay: true }, (request, response) => this.#serve(request, response));
  }

  /** The URL the server listens on (`http://host:port`), once {@link AmuletServer.listen} has resolved. */
  get url(): string | undefined {
    return this.#url;
  }

  /** Slots, busy slots, waiting requests and the URL. */
  status(): ServerStatus {
    return { ...this.#pool.status(), url: this.#url };
  }

  /**
   * Starts listening on the host and port of the options; resolves with the URL.
   *
   * @throws Error (e.g. `EADDRINUSE`) when the address cannot be bound.
   */
  listen(): Promise<string> {
    if (this.#closed) return Promise.reject(new AmuletError('ERR_DISPOSED', 'the server has been closed'));
    return new Promise((resolve, reject) => {
      this.#http.once('error', reject);
      this.#http.listen(this.#port, this.#host, () => {
        this.#http.off('error', reject);
        const address = this.#http.address() as AddressInfo;
        const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
        this.#url = `http://${host}:${address.port}`;
        resolve(this.#url);
      });
    });
  }

  /**
   * Stops the server: no new connections, waiting requests get 503, running
   * generations are aborted (each stops within one token), then the slots'
   * sessions are disposed and every connection closed. The model is not
   * disposed. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.#closed ??= this.#shutDown();
    return this.#closed;
  }

  /** Disposes it, for `await using`: the same as `dispose()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #shutDown(): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.#http.close(() => resolve()));
    this.#pool.close(new ApiError(503, 'the server is shutting down', { code: 'shutting_down' }));
    this.#closing.abort();
    await Promise.all(this.#running);
    await this.#context.dispose();
    this.#http.closeAllConnections();
    if (this.#http.listening) await stopped;
  }

  #route(path: string): Route | undefined {
    const playground = playgroundRoute(path, this.#defaults, () => this.#pool.status().slots);
    if (playground) return playground;
    switch (path) {
      case '/health':
        return { methods: ['GET'], authenticated: false, handle: async (_, response) => this.#health(response) };
      case '/metrics':
        return { methods: ['GET'], authenticated: true, handle: async (_, response) => this.#metrics(response) };
      case '/slots':
        return { methods: ['GET'], authenticated: true, handle: async (_, response) => this.#slots(response) };
      case '/v1/models':
      case '/models':
        return { methods: ['GET'], authenticated: true, handle: async (_, response) => this.#models(response) };
      case '/v1/chat/completions':
      case '/chat/completions':
        return { methods: ['POST'], authenticated: true, handle: (request, response, signal) =>
          this.#chatCompletion(request, response, signal) };
    }
    const model = /^\/(?:v1\/)?models\/(.+)$/.exec(path);
    if (model) {
      return { methods: ['GET'], authenticated: true, handle: async (_, response) =>
        this.#model(response, decodeURIComponent(model[1]!)) };
    }
    return undefined;
  }

  #serve(request: IncomingMessage, response: ServerResponse): void {
    const served = this.#handle(request, response);
    this.#running.add(served);
    void served.finally(() => this.#running.delete(served));
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const started = performance.now();
    const path = (request.url ?? '/').split('?')[0]!;
    const record: ServerRequestRecord = { method: request.method ?? '', path, status: 0, durationMs: 0 };
    // The client going away (or the server closing) stops the request's work.
    const controller = new AbortController();
    const stop = (): void => controller.abort();
    response.on('close', () => {
      if (!response.writableFinished) stop();
    });
    this.#closing.signal.addEventListener('abort', stop, { once: true });
    try {
      const route = this.#route(path);
      if (!route) throw new ApiError(404, `no route ${path}`, { type: 'not_found_error', code: 'not_found' });
      if (!route.methods.includes(record.method)) {
        throw new ApiError(405, `${path} takes ${route.methods.join(', ')}, not ${record.method}`,
          { code: 'method_not_allowed', headers: { Allow: route.methods.join(', ') } });
      }
      if (route.authenticated && this.#apiKey && !this.#apiKey.accepts(request.headers)) {
        throw new ApiError(401, 'missing or incorrect API key: send it as "Authorization: Bearer <key>"',
          { type: 'authentication_error', code: 'invalid_api_key' });
      }
      const completion = await route.handle(request, response, controller.signal);
      if (completion) record.completion = completion;
    } catch (error) {
      const apiError = apiErrorOf(error);
      // A request stopped because its client left is no failure of the server's.
      if (apiError.status >= 500 && !(error instanceof ApiError) && !controller.signal.aborted) {
        record.error = error instanceof Error ? error.message : String(error);
      }
      sendError(response, apiError);
    } finally {
      this.#closing.signal.removeEventListener('abort', stop);
      record.status = response.headersSent ? response.statusCode : CLIENT_CLOSED_REQUEST;
      record.durationMs = performance.now() - started;
      if (record.completion?.error !== undefined) record.error = record.completion.error;
      this.#count(record);
      this.#report(record);
    }
  }

  #count(record: ServerRequestRecord): void {
    const counters = this.#counters;
    counters.requestsByStatus.set(record.status, (counters.requestsByStatus.get(record.status) ?? 0) + 1);
    const completion = record.completion;
    if (!completion) return;
    counters.completions += 1;
    counters.promptTokens += completion.promptTokens;
    counters.completionTokens += completion.completionTokens;
    this.#lastCompletion[completion.slot] = completion;
  }

  #report(record: ServerRequestRecord): void {
    try {
      this.#onRequestEnd?.(record);
    } catch {
      // A throwing log callback must not take the server down.
    }
  }

  async #chatCompletion(request: IncomingMessage, response: ServerResponse, signal: AbortSignal): Promise<CompletionRecord> {
    const body = await readJsonBody(request, this.#maxBodyBytes);
    const chat = parseChatRequest(body, this.#vocabularySize);
    return serveChatCompletion(chat, response, this.#pool, this.#defaults, signal);
  }

  #modelObject(): object {
    return { id: this.#defaults.modelName, object: 'model', created: 0, owned_by: 'amulet-llm' };
  }

  #models(response: ServerResponse): void {
    sendJson(response, 200, { object: 'list', data: [this.#modelObject()] });
  }

  #model(response: ServerResponse, id: string): void {
    if (id !== this.#defaults.modelName) {
      throw new ApiError(404, `no model ${JSON.stringify(id)}; this server has ${JSON.stringify(this.#defaults.modelName)}`,
        { type: 'not_found_error', param: 'model', code: 'model_not_found' });
    }
    sendJson(response, 200, this.#modelObject());
  }

  #metrics(response: ServerResponse): void {
    const text = metricsText(this.#counters, this.#pool.status(), this.#context.metrics());
    response.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE, 'Content-Length': String(Buffer.byteLength(text)) });
    response.end(text);
  }

  /** The slots as llama-server's /slots lists them: each one's state and what its cache last held. */
  #slots(response: ServerResponse): void {
    sendJson(response, 200, this.#pool.slotStates().map(({ slot, busy }) => {
      const last = this.#lastCompletion[slot.index];
      return {
        id: slot.index,
        is_processing: busy,
        n_ctx: this.#contextSize,
        messages: slot.conversation ? slot.conversation.messages.length : 0,
        last_completion: last === undefined ? null : {
          id: last.id, method: last.method, outcome: last.outcome, prompt_tokens: last.promptTokens,
          cached_tokens: last.cachedTokens, completion_tokens: last.completionTokens,
        },
      };
    }));
  }

  #health(response: ServerResponse): void {
    const status = this.#pool.status();
    sendJson(response, 200, {
      status: 'ok', slots_idle: status.slots - status.busy, slots_processing: status.busy,
      requests_waiting: status.queued, queue_size: status.queueSize,
    });
  }
}

/**
 * An OpenAI-compatible server over a loaded model; call
 * {@link AmuletServer.listen} to start it. It makes one context of the model
 * and `parallel` sessions on it (slots), whose generations decode together,
 * and sends each request to the idle slot whose last conversation shares the
 * most leading messages with it, so a conversation's next turn reuses its KV
 * cache on every sequence.
 *
 * ```ts
 * await using model = await loadModel({ path: 'model.gguf' });
 * await using server = createServer(model, { port: 8080, preferences: ['Be concise.'] });
 * console.log(await server.listen());
 * ```
 *
 * @throws AmuletError ERR_INVALID_OPTION for an invalid option, ERR_DISPOSED when the model is disposed.
 */
export function createServer(model: Model, options: ServerOptions = {}): AmuletServer {
  return new AmuletServer(model, options);
}
