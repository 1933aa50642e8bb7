/**
 * A `POST /v1/chat/completions` body, checked field by field and turned into
 * what a session needs: the system prompt, the history, the new user
 * message and the prompt's options. Every mistake is a 400 that names the
 * field; fields clients send by habit and that change nothing here are
 * accepted and ignored ({@link ignoredFields}).
 *
 * @packageDocumentation
 */
import { describeValue, rules, type OptionRule } from '../option-rules';
import type { JsonSchema } from '../option-rules';
import { checkLogitBias, optionValue, resolvePreferences, type OutputControls, type Preference, type RealignOptions,
  type SamplingOptions } from '../options';
import type { ChatMessage } from '../session';
import { ApiError, fieldCheck, invalidField } from './api-error';

/**
 * The constrained-decoding options of a prompt (`stop`, `logitBias`,
 * `grammar`, `jsonSchema`), as the request's `stop`, `logit_bias`, `grammar`
 * and `response_format` give them.
 */
export type GenerationConstraints = { -readonly [K in keyof OutputControls]: OutputControls[K] };

/** A chat completion request, checked. */
export interface ChatRequest {
  /** The `model` the client named (echoed in the answer). */
  model: string | undefined;
  /** The system and developer messages before the conversation, joined; undefined when there are none. */
  systemPrompt: string | undefined;
  /** The conversation before the last message. */
  history: ChatMessage[];
  /** The last message, the user's. */
  question: string;
  stream: boolean;
  /** `stream_options.include_usage`: a last chunk with the usage. */
  includeUsage: boolean;
  maxTokens: number | undefined;
  /** Only the sampling settings the request gives. */
  sampling: SamplingOptions;
  /** The request's `preferences`; undefined when it has none (the server's then apply). */
  preferences: Required<Preference>[] | undefined;
  /** The request's `amulet` object: method and coefficients it gives. */
  realign: RealignOptions;
  /** `amulet.trace`: the per-token trace in the answer (each chunk's, when streamed). */
  trace: boolean;
  constraints: GenerationConstraints;
}

/**
 * Standard fields that are accepted and have no effect here: bookkeeping
 * (`user`, `metadata`, `store`, `service_tier`, `prompt_cache_key`,
 * `safety_identifier`), hints for features this server does not have
 * (`parallel_tool_calls`, `tool_choice`, `function_call` without tools;
 * `reasoning_effort`, `verbosity`), and llama-server's `cache_prompt` (the
 * cache is always reused).
 */
export const ignoredFields: readonly string[] = [
  'user', 'metadata', 'store', 'service_tier', 'prompt_cache_key', 'safety_identifier', 'parallel_tool_calls',
  'tool_choice', 'function_call', 'reasoning_effort', 'verbosity', 'cache_prompt',
];

/** Sampling fields and the library options they set: OpenAI's, then llama-server's. */
const samplingFields: readonly (readonly [string, keyof SamplingOptions])[] = [
  ['temperature', 'temperature'], ['top_p', 'topP'], ['seed', 'seed'], ['frequency_penalty', 'frequencyPenalty'],
  ['presence_penalty', 'presencePenalty'], ['top_k', 'topK'], ['min_p', 'minP'], ['repeat_penalty', 'repeatPenalty'],
  ['repeat_last_n', 'repeatLastN'],
];

/** Fields of the `amulet` extension object, each a library realignment option of the same name. */
const realignFields = ['method', 'alpha', 'lambda', 'eta', 'iterations', 'ratio', 'plausibility', 'klBudget',
  'echoGuard'] as const;

/** Every field of the `amulet` object: the realignment's, and `trace`, the prompt option of that name. */
const amuletFields: readonly string[] = [...realignFields, 'trace'];

/** Every other field the server reads. */
const readFields = [
  'model', 'messages', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens', 'stop', 'logit_bias',
  'response_format', 'grammar', 'n', 'logprobs', 'top_logprobs', 'tools', 'functions', 'modalities', 'preferences',
  'amulet',
];

const knownFields = new Set<string>([...readFields, ...samplingFields.map(([field]) => field), ...ignoredFields]);

type Body = Record<string, unknown>;

function isObject(value: unknown): value is Body {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Null counts as absent, as OpenAI's API reads it. */
function given(value: unknown): boolean {
  return value !== undefined && value !== null;
}

/** A field checked against the library's rule for it, under the field's own name. */
function ruleField(param: string, rule: OptionRule, value: unknown): unknown {
  if (!given(value)) return undefined;
  return fieldCheck(param, () => optionValue(rule, value, rule.default, param));
}

function booleanField(param: string, value: unknown): boolean | undefined {
  if (!given(value)) return undefined;
  if (typeof value !== 'boolean') throw invalidField(param, `${param} must be a boolean (got ${describeValue(value)})`);
  return value;
}

/** A message's text: a string, or an array of text parts (joined by line breaks). */
function messageText(content: unknown, where: string): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) {
    throw invalidField(`${where}.content`, `${where}.content must be a string or an array of text parts ` +
      `(got ${describeValue(content)})`);
  }
  return content.map((part: unknown, index) => {
    const at = `${where}.content[${index}]`;
    if (!isObject(part)) throw invalidField(at, `${at} must be a content part object`);
    if (part.type !== 'text') {
      throw invalidField(`${at}.type`, `${at}: content parts of type ${describeValue(part.type)} are not supported; ` +
        'this server takes text only');
    }
    if (typeof part.text !== 'string') throw invalidField(`${at}.text`, `${at}.text must be a string`);
    return part.text;
  }).join('\n');
}

/** Refuses what only a tool-calling server could honour; clients echo these fields empty, which is fine. */
function checkNoToolCalls(message: Body, where: string): void {
  const calls = message.tool_calls;
  if ((Array.isArray(calls) && calls.length > 0) || (given(calls) && !Array.isArray(calls)) || given(message.function_call)) {
    throw invalidField(`${where}.tool_calls`, `${where}: tool calls are not supported; this server does not call tools`);
  }
}

function parseMessages(value: unknown): { systemPrompt: string | undefined; turns: ChatMessage[] } {
  if (!Array.isArray(value) || value.length === 0) {
    throw invalidField('messages', 'messages must be a non-empty array of { role, content } objects');
  }
  const system: string[] = [];
  const turns: ChatMessage[] = [];
  value.forEach((message: unknown, index) => {
    const where = `messages[${index}]`;
    if (!isObject(message)) throw invalidField(where, `${where} must be an object with role and content`);
    const role = message.role;
    if (role === 'tool' || role === 'function') {
      throw invalidField(`${where}.role`, `${where}: ${role} messages are not supported; this server does not call tools`);
    }
    if (role === 'system' || role === 'developer') {
      if (turns.length > 0) {
        throw invalidField(`${where}.role`, `${where}: a ${role} message must come before the conversation's first ` +
          'user or assistant message');
      }
      system.push(messageText(message.content, where));
      return;
    }
    if (role !== 'user' && role !== 'assistant') {
      throw invalidField(`${where}.role`, `${where}.role must be one of system, developer, user, assistant ` +
        `(got ${describeValue(role)})`);
    }
    checkNoToolCalls(message, where);
    turns.push({ role, content: messageText(message.content, where) });
  });
  if (turns.length === 0 || turns[turns.length - 1]!.role !== 'user') {
    throw invalidField('messages', 'the last message must be a user message');
  }
  return { systemPrompt: system.length > 0 ? system.join('\n\n') : undefined, turns };
}

/** `stop`: one string or a list, under the library's rule for its stop strings. */
function parseStop(value: unknown): string[] | undefined {
  if (!given(value)) return undefined;
  const stops = ruleField('stop', rules.stop, typeof value === 'string' ? [value] : value) as string[];
  return stops.length > 0 ? stops : undefined;
}

function parseLogitBias(value: unknown, vocabularySize: number): Record<number, number> | undefined {
  if (!given(value)) return undefined;
  const biases = fieldCheck('logit_bias', () => checkLogitBias(value, vocabularySize, 'logit_bias'));
  return Object.keys(biases).length > 0 ? { ...biases } : undefined;
}

/** `response_format`: `text`, `json_object` (any JSON) or `json_schema` (JSON of that schema). */
function parseResponseFormat(value: unknown): JsonSchema | undefined {
  if (!given(value)) return undefined;
  if (!isObject(value)) throw invalidField('response_format', 'response_format must be an object with a type');
  switch (value.type) {
    case 'text': return undefined;
    case 'json_object': return true;
    case 'json_schema': {
      const format = value.json_schema;
      if (!isObject(format)) {
        throw invalidField('response_format.json_schema', 'response_format.json_schema must be an object with a schema');
      }
      if (!given(format.schema)) return true;
      if (!isObject(format.schema)) {
        throw invalidField('response_format.json_schema.schema', 'response_format.json_schema.schema must be a JSON schema object');
      }
      return format.schema;
    }
    default:
      throw invalidField('response_format.type', 'response_format.type must be one of text, json_object, json_schema ' +
        `(got ${describeValue(value.type)})`);
  }
}

/** The `amulet` object: the realignment options it gives, and whether it asks for the trace. */
function parseAmulet(value: unknown): { realign: RealignOptions; trace: boolean } {
  if (!given(value)) return { realign: {}, trace: false };
  if (!isObject(value)) throw invalidField('amulet', `amulet must be an object: { ${amuletFields.join(', ')} }`);
  const realign: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (!amuletFields.includes(key)) {
      throw invalidField(`amulet.${key}`, `amulet.${key} is not a known field (known: ${amuletFields.join(', ')})`);
    }
    if (key !== 'trace') realign[key] = ruleField(`amulet.${key}`, rules[key as (typeof realignFields)[number]], field);
  }
  return { realign: realign as RealignOptions, trace: booleanField('amulet.trace', value.trace) ?? false };
}

function parsePreferences(value: unknown): Required<Preference>[] | undefined {
  if (!given(value)) return undefined;
  return fieldCheck('preferences', () => resolvePreferences(value as Preference[]));
}

/** Refuses fields whose only meaningful values ask for something this server cannot do. */
function checkUnsupported(body: Body): void {
  if (given(body.n) && body.n !== 1) {
    throw invalidField('n', `n must be 1: this server makes one choice per request (got ${describeValue(body.n)})`);
  }
  if (body.logprobs === true) throw invalidField('logprobs', 'logprobs are not supported');
  if (given(body.logprobs) && typeof body.logprobs !== 'boolean') throw invalidField('logprobs', 'logprobs must be a boolean');
  for (const field of ['tools', 'functions']) {
    const list = body[field];
    if (given(list) && (!Array.isArray(list) || list.length > 0)) {
      throw invalidField(field, `${field} are not supported; this server does not call tools`);
    }
  }
  const modalities = body.modalities;
  if (given(modalities) && (!Array.isArray(modalities) || modalities.some((modality) => modality !== 'text'))) {
    throw invalidField('modalities', 'modalities must be ["text"]: this server answers with text only');
  }
}

/**
 * Checks a chat completion body.
 *
 * @param vocabularySize the model's, for `logit_bias` token ids.
 * @throws ApiError 400 naming the field at fault.
 */
export function parseChatRequest(body: unknown, vocabularySize: number): ChatRequest {
  if (!isObject(body)) throw new ApiError(400, 'the body must be a JSON object', { code: 'invalid_json' });
  for (const field of Object.keys(body)) {
    if (!knownFields.has(field)) throw invalidField(field, `${field} is not a known field of a chat completion request`);
  }
  checkUnsupported(body);
  if (given(body.model) && typeof body.model !== 'string') throw invalidField('model', 'model must be a string');
  const { systemPrompt, turns } = parseMessages(body.messages);
  const stream = booleanField('stream', body.stream) ?? false;
  const streamOptions = given(body.stream_options) ? body.stream_options : {};
  if (!isObject(streamOptions)) throw invalidField('stream_options', 'stream_options must be an object');
  const includeUsage = booleanField('stream_options.include_usage', streamOptions.include_usage) ?? false;
  // max_tokens is the older name of max_completion_tokens; the newer one wins when both are given.
  const maxCompletionTokens = ruleField('max_completion_tokens', rules.maxTokens, body.max_completion_tokens);
  const maxTokens = maxCompletionTokens ?? ruleField('max_tokens', rules.maxTokens, body.max_tokens);
  const sampling: Record<string, unknown> = {};
  for (const [field, option] of samplingFields) {
    const value = ruleField(field, rules[option], body[field]);
    if (value !== undefined) sampling[option] = value;
  }
  if (given(body.grammar) && typeof body.grammar !== 'string') throw invalidField('grammar', 'grammar must be a GBNF string');
  const constraints: GenerationConstraints = {};
  const stop = parseStop(body.stop);
  if (stop) constraints.stop = stop;
  const logitBias = parseLogitBias(body.logit_bias, vocabularySize);
  if (logitBias) constraints.logitBias = logitBias;
  const jsonSchema = parseResponseFormat(body.response_format);
  if (jsonSchema !== undefined) constraints.jsonSchema = jsonSchema;
  if (given(body.grammar)) constraints.grammar = body.grammar as string;
  if (constraints.grammar !== undefined && constraints.jsonSchema !== undefined) {
    throw invalidField('grammar', 'grammar and a JSON response_format cannot be combined');
  }
  return {
    model: typeof body.model === 'string' ? body.model : undefined,
    systemPrompt,
    history: turns.slice(0, -1),
    question: turns[turns.length - 1]!.content,
    stream,
    includeUsage: stream && includeUsage,
    maxTokens: maxTokens as number | undefined,
    sampling: sampling as SamplingOptions,
    preferences: parsePreferences(body.preferences),
    ...parseAmulet(body.amulet),
    constraints,
  };
}
