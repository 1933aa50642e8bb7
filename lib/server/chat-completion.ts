/**
 * One chat completion, from a checked request to the answer on the wire:
 * the settings that apply (the request's, else the server's), a slot from
 * the pool, the generation on the slot's session, and the answer as one JSON
 * object or as server-sent events.
 *
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { NativeRealign } from '../addon-types';
import type { FinishReason, GenerationResult, GenerationStream } from '../generation';
import {
  checkMethodPreferences,
  checkRealignCoefficients,
  resolveRealign,
  type Preference,
  type RealignMethod,
} from '../options';
import type { PromptOptions, Session } from '../session';
import { apiErrorOf, fieldCheck } from './api-error';
import { sendError, sendJson } from './json-response';
import type { ChatRequest } from './chat-request';
import {
  amuletInfoOf,
  amuletTraceOf,
  chunkObject,
  completionObject,
  finishReasonOf,
  usageChunkObject,
  usageOf,
  type AmuletTokenTrace,
  type CompletionHeader,
} from './chat-response';
import type { Conversation, SlotPool } from './slot-pool';
import { drained } from './drained';

/** What the server uses where a request says nothing. */
export interface ChatDefaults {
  /** The model id answers name when the request names none. */
  modelName: string;
  systemPrompt: string;
  /** Preferences of requests without `preferences`. */
  preferences: Required<Preference>[];
  /** Method (for requests with preferences) and coefficients. */
  realign: NativeRealign;
  maxTokens: number;
}

/** How a chat completion that reached a slot went. */
export interface CompletionRecord {
  /** The completion's id (`chatcmpl-…`). */
  id: string;
  /** The slot that served it. */
  slot: number;
  /** Whether the answer was streamed (server-sent events). */
  stream: boolean;
  /** The method the answer was decoded with. */
  method: RealignMethod;
  /**
   * How the generation ended: its finish reason, `'aborted'` when the client
   * went away (or the server closed) before the end, `'error'` when it failed.
   */
  outcome: FinishReason | 'aborted' | 'error';
  /** `usage.prompt_tokens` of the answer (0 when it failed). */
  promptTokens: number;
  /** `usage.completion_tokens`: tokens generated. */
  completionTokens: number;
  /** `usage.prompt_tokens_details.cached_tokens`: prompt tokens found in the slot's cache. */
  cachedTokens: number;
  /** Why it failed (`outcome: 'error'`), for the server's log; clients see no more than the error response. */
  error?: string;
}

/** The settings a request decodes with: its own, the server's where it gives none. */
function promptSettings(request: ChatRequest, defaults: ChatDefaults): {
  conversation: Conversation; options: PromptOptions; method: RealignMethod;
} {
  const preferences = request.preferences ?? defaults.preferences;
  // Without preferences there is nothing to realign toward: plain generation.
  const method = request.realign.method ?? (preferences.length > 0 ? defaults.realign.method : 'base');
  const realign = resolveRealign({ ...request.realign, method }, defaults.realign);
  // The session checks these again when it prompts; here they fail before the request waits for a slot.
  fieldCheck('preferences', () => {
    checkMethodPreferences(method, preferences);
    checkRealignCoefficients(realign, preferences);
  });
  const systemPrompt = request.systemPrompt ?? defaults.systemPrompt;
  return {
    conversation: { systemPrompt, messages: [...request.history, { role: 'user', content: request.question }] },
    options: {
      ...realign,
      preferences,
      systemPrompt,
      sampling: request.sampling,
      maxTokens: request.maxTokens ?? defaults.maxTokens,
      trace: request.trace,
      ...request.constraints,
    },
    method,
  };
}

/** Writes one server-sent event, waiting while the client is slower than the model. */
async function sendEvent(response: ServerResponse, data: object | string): Promise<void> {
  if (response.destroyed || response.writableEnded) return;
  if (!response.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`)) await drained(response);
}

/**
 * Streams the answer as server-sent events: a first chunk with the role, one
 * per piece of text (with its tokens' `amulet.trace` when the request asked
 * for it), one with the finish reason and the `amulet` object, the
 * usage when asked for, then `[DONE]`. The headers go out with the first
 * text, so a request that fails before it (a prompt that does not fit) still
 * gets its HTTP status; a failure after it becomes an `error` event.
 */
async function streamAnswer(stream: GenerationStream, response: ServerResponse, header: CompletionHeader,
  includeUsage: boolean): Promise<GenerationResult> {
  const extra = { includeUsage };
  const start = async (): Promise<void> => {
    if (response.headersSent) return;
    response.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    await sendEvent(response, chunkObject(header, { delta: { role: 'assistant', content: '' } }, extra));
  };
  try {
    for await (const chunk of stream) {
      const traces = chunk.traces?.map(amuletTraceOf);
      if (chunk.text === '' && traces === undefined) continue;
      await start();
      await sendEvent(response, chunkObject(header, { delta: { content: chunk.text } },
        traces ? { ...extra, amulet: { trace: traces } } : extra));
    }
    const result = await stream;
    await start();
    const finishReason = finishReasonOf(result.finishReason);
    await sendEvent(response, chunkObject(header, { delta: {}, finishReason }, { ...extra, amulet: amuletInfoOf(result) }));
    if (includeUsage) await sendEvent(response, usageChunkObject(header, result));
    await sendEvent(response, '[DONE]');
    response.end();
    return result;
  } catch (error) {
    if (response.headersSent && !response.destroyed) {
      await sendEvent(response, apiErrorOf(error).body());
      response.end();
    }
    throw error;
  }
}

/** Sends the whole answer as one JSON object, with the trace its chunks carried when the request asked for it. */
async function answer(stream: GenerationStream, response: ServerResponse, header: CompletionHeader,
  trace: boolean): Promise<GenerationResult> {
  const traces: AmuletTokenTrace[] = [];
  if (trace) {
    for await (const chunk of stream) traces.push(...(chunk.traces ?? []).map(amuletTraceOf));
  }
  const result = await stream;
  if (!response.destroyed) sendJson(response, 200, completionObject(header, result, trace ? traces : undefined));
  return result;
}

/** A new completion id, as OpenAI spells them. */
function completionId(): string {
  return `chatcmpl-${randomBytes(12).toString('hex')}`;
}

/**
 * Serves a checked chat completion request: waits for a slot, decodes on its
 * session, answers (an error too, once it has a slot), and hands the slot
 * back once the generation has stopped. `signal` fires when the client goes
 * away or the server closes: a waiting request leaves the queue, a running
 * generation stops within one token.
 *
 * @throws what the settings check or the queue throws (an ApiError or an
 *   AmuletError), before the request has a slot: the caller answers with it.
 */
export async function serveChatCompletion(request: ChatRequest, response: ServerResponse, pool: SlotPool<Session>,
  defaults: ChatDefaults, signal: AbortSignal): Promise<CompletionRecord> {
  const { conversation, options, method } = promptSettings(request, defaults);
  const slot = await pool.acquire(conversation, signal);
  const header: CompletionHeader = {
    id: completionId(), created: Math.floor(Date.now() / 1000), model: request.model ?? defaults.modelName,
  };
  const record: CompletionRecord = {
    id: header.id, slot: slot.index, stream: request.stream, method, outcome: 'error',
    promptTokens: 0, completionTokens: 0, cachedTokens: 0,
  };
  const session = slot.resource;
  let stream: GenerationStream | undefined;
  try {
    session.setHistory(request.history);
    stream = session.prompt(request.question, { ...options, signal });
    const result = request.stream
      ? await streamAnswer(stream, response, header, request.includeUsage)
      : await answer(stream, response, header, request.trace);
    const usage = usageOf(result);
    Object.assign(record, {
      outcome: result.finishReason, promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens,
      cachedTokens: usage.prompt_tokens_details.cached_tokens,
    });
  } catch (error) {
    const apiError = apiErrorOf(error);
    if (signal.aborted) {
      record.outcome = 'aborted';
    } else {
      record.error = error instanceof Error ? error.message : String(error);
    }
    sendError(response, apiError);
  } finally {
    // The slot is free only once its generation has stopped: an aborted one stops within a token.
    await stream?.settled;
    pool.release(slot, { systemPrompt: conversation.systemPrompt, messages: session.history });
  }
  return record;
}
