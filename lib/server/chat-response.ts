/**
 * The JSON the server answers a chat completion with: the whole completion,
 * or the chunks of a streamed one, in OpenAI's shapes, plus the `amulet`
 * object that says how the answer was decoded.
 *
 * @packageDocumentation
 */
import type { FinishReason, GenerationResult, TokenTrace } from '../generation';
import type { RealignMethod } from '../options';

/** What every object of one completion shares. */
export interface CompletionHeader {
  id: string;
  /** Unix time in seconds. */
  created: number;
  model: string;
}

/** `usage`: tokens of the prompt and the answer. */
export interface CompletionUsage {
  /** The longest sequence's prompt (with preferences, a preference sequence's: its system prompt carries the preference). */
  prompt_tokens: number;
  /** Tokens generated. */
  completion_tokens: number;
  /** `prompt_tokens + completion_tokens`. */
  total_tokens: number;
  /** OpenAI's details of the prompt tokens. */
  prompt_tokens_details: {
    /** Prompt tokens found in the slot's KV cache per sequence: the mean over the sequences. */
    cached_tokens: number;
  };
}

/** The `amulet` extension object of an answer. */
export interface AmuletInfo {
  /** The method the answer was decoded with. */
  method: RealignMethod;
  /** s of softmax(l_p + s (l_p − l_b)); −1 for base, 0 for pref. */
  guidance_scale: number;
  /** The scale the answer's tokens got on average: below `guidance_scale` where a KL budget capped it. */
  mean_guidance_scale: number;
  /** Sequences decoded together: the base and one per preference. */
  sequences: number;
  /** Prompt tokens found in the slot's KV cache, summed over the sequences. */
  reused_prompt_tokens: number;
  /** Prompt tokens evaluated, summed over the sequences (a prefix they share counted once). */
  evaluated_prompt_tokens: number;
}

/** One distribution's most likely token in a {@link AmuletTokenTrace}. */
export interface AmuletTopToken {
  /** The token's id in the model's vocabulary. */
  token: number;
  /** Its text, as the model spells the token. */
  text: string;
  /** Its probability under the distribution it tops. */
  probability: number;
}

/**
 * One generated token's trace (`amulet: { trace: true }`): the most likely
 * token of the base prompt, of the (first) preference prompt and of the
 * realigned distribution, and how far realignment moved the distribution.
 */
export interface AmuletTokenTrace {
  /** The token emitted. */
  token: number;
  /** The base prompt's most likely token. */
  base: AmuletTopToken;
  /** The (first) preference prompt's most likely token. */
  preference: AmuletTopToken;
  /** The realigned distribution's most likely token. */
  realigned: AmuletTopToken;
  /** KL(realigned ‖ base) in nats. */
  kl_divergence: number;
}

/** The `amulet` object of a streamed chunk that carries text, when the request asked for the trace. */
export interface AmuletChunkTrace {
  /** One entry per token whose text the chunk carries. */
  trace: AmuletTokenTrace[];
}

/** A token's trace as the library records it, in the wire shape. */
export function amuletTraceOf(trace: TokenTrace): AmuletTokenTrace {
  return {
    token: trace.token,
    base: { token: trace.baseToken, text: trace.baseText, probability: trace.baseProbability },
    preference: { token: trace.preferenceToken, text: trace.preferenceText, probability: trace.preferenceProbability },
    realigned: { token: trace.realignedToken, text: trace.realignedText, probability: trace.realignedProbability },
    kl_divergence: trace.klDivergence,
  };
}

/** OpenAI's finish reasons: a full context also ends the answer for lack of room. */
export function finishReasonOf(reason: FinishReason): 'stop' | 'length' {
  return reason === 'stop' ? 'stop' : 'length';
}

/**
 * `prompt_tokens` is the longest sequence's prompt (with preferences, a
 * preference sequence's: the system prompt carries the preference text);
 * `cached_tokens` the prompt tokens each sequence found in the slot's KV
 * cache, averaged over the sequences (exact for plain generation, one sequence).
 */
export function usageOf(result: GenerationResult): CompletionUsage {
  const cached = Math.min(result.promptTokenCount, Math.floor(result.reusedPromptTokenCount / result.sequenceCount));
  return {
    prompt_tokens: result.promptTokenCount,
    completion_tokens: result.generatedTokenCount,
    total_tokens: result.promptTokenCount + result.generatedTokenCount,
    prompt_tokens_details: { cached_tokens: cached },
  };
}

export function amuletInfoOf(result: GenerationResult): AmuletInfo {
  return {
    method: result.method,
    guidance_scale: result.guidanceScale,
    mean_guidance_scale: result.meanGuidanceScale,
    sequences: result.sequenceCount,
    reused_prompt_tokens: result.reusedPromptTokenCount,
    evaluated_prompt_tokens: result.evaluatedPromptTokenCount,
  };
}

/** The answer to a request without `stream`; `trace`, when the request asked for it, joins the `amulet` object. */
export function completionObject(header: CompletionHeader, result: GenerationResult, trace?: AmuletTokenTrace[]): object {
  return {
    id: header.id,
    object: 'chat.completion',
    created: header.created,
    model: header.model,
    choices: [{
      index: 0,
      message: { role: 'assistant', content: result.text, refusal: null },
      logprobs: null,
      finish_reason: finishReasonOf(result.finishReason),
    }],
    usage: usageOf(result),
    amulet: trace ? { ...amuletInfoOf(result), trace } : amuletInfoOf(result),
  };
}

/**
 * One chunk of a streamed answer. `usage` is null in every chunk but the last
 * when the client asked for it (`stream_options.include_usage`), absent otherwise.
 */
export function chunkObject(header: CompletionHeader, choice: {
  delta: { role?: 'assistant'; content?: string };
  finishReason?: 'stop' | 'length';
}, extra: { includeUsage: boolean; amulet?: AmuletInfo | AmuletChunkTrace }): object {
  return {
    id: header.id,
    object: 'chat.completion.chunk',
    created: header.created,
    model: header.model,
    choices: [{ index: 0, delta: choice.delta, logprobs: null, finish_reason: choice.finishReason ?? null }],
    ...(extra.includeUsage ? { usage: null } : {}),
    ...(extra.amulet ? { amulet: extra.amulet } : {}),
  };
}

/** The chunk after the last choice chunk, when the client asked for the usage: no choices, the usage. */
export function usageChunkObject(header: CompletionHeader, result: GenerationResult): object {
  return {
    id: header.id,
    object: 'chat.completion.chunk',
    created: header.created,
    model: header.model,
    choices: [],
    usage: usageOf(result),
  };
}
