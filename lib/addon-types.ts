/**
 * The typed contract of the native addon (native/addon/): what each native
 * function takes and returns. A leaf: it imports only types (errors,
 * model info, context metrics, the rules table), so every module can depend on it. Names are camelCase here and mapped to
 * llama.cpp's snake_case once, in native/addon/generation_request_parser.cpp.
 * Internal: not exported from the package entry point.
 *
 * @packageDocumentation
 */
import type { ContextMetrics } from './context-metrics';
import type { AmuletError } from './errors';
import type { ModelInfo } from './model-info';
import type { rules } from './option-rules';

/** Realignment settings as the addon reads them (all fields present). */
export interface NativeRealign {
  method: (typeof rules.method.values)[number];
  alpha: number;
  lambda: number;
  eta: number;
  iterations: number;
  ratio: number;
  plausibility: number;
  klBudget: number;
  echoGuard: boolean;
}

/** Sampling settings as the addon reads them (all fields present). */
export interface NativeSampling {
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repeatPenalty: number;
  repeatLastN: number;
  frequencyPenalty: number;
  presencePenalty: number;
  seed: number;
}

export type NativeGenerationRequest = {
  systemPrompt: string;
  turns: { role: 'user' | 'assistant'; content: string }[];
  preferences: { text: string; weight: number }[];
  realign: NativeRealign;
  sampling: NativeSampling;
  maxTokens: number;
  trace: boolean;
  captureLogits: boolean;
  realignOn: 'auto' | 'cpu' | 'backend';
  contextOverflow: 'error' | 'dropOldestTurns';
} & NativeOutputControls;

/** What the answer may be, as the addon reads it (all fields present; none: empty). */
export interface NativeOutputControls {
  stop: string[];
  logitBias: { token: number; bias: number }[];
  /** GBNF; empty: none. */
  grammar: string;
  /** A JSON Schema as JSON text; empty: none (never with grammar). */
  jsonSchema: string;
}

export interface NativeTrace {
  baseText: string;
  preferenceText: string;
  realignedText: string;
  baseToken: number;
  baseProbability: number;
  preferenceToken: number;
  preferenceProbability: number;
  realignedToken: number;
  realignedProbability: number;
  klDivergence: number;
}

export interface NativeToken {
  token: number;
  text: string;
  trace?: NativeTrace;
  capture?: {
    rows: Float32Array[]; realignedLogProbs: Float32Array; guidanceScale: number; echoGuardTokens?: number[][];
  };
}

export interface NativeOutcome {
  finishReason: 'stop' | 'maxTokens' | 'contextFull' | 'aborted';
  tailText: string;
  stopString?: string;
  promptTokens: number;
  evaluatedTokens: number;
  reusedTokens: number;
  droppedMessages: number;
  generatedTokens: number;
  sequences: number;
  promptMs: number;
  generationMs: number;
  /** Time in the sampler chain, summed over the tokens, in µs (the result divides it per token). */
  samplerTotalUs: number;
  realignedOn: 'cpu' | 'backend';
  guidanceScale: number;
  meanGuidanceScale: number;
  error?: AmuletError;
}

export interface NativeStep {
  tokens: NativeToken[];
  outcome?: NativeOutcome;
}

/** [async] One running generation; next() waits for at least one token or the end. */
export interface NativeGeneration {
  next(): Promise<NativeStep>;
  abort(): void;
}

export interface NativeSession {
  /** [sync] Starts a generation on the context's decode thread. Throws ERR_BUSY, ERR_DISPOSED. */
  generate(request: NativeGenerationRequest): NativeGeneration;
  /** [sync] Aborts a running generation and frees the session's KV sequences once it has stopped. */
  dispose(): void;
}

/** The sizes of a context as the addon reads them; `sequences` 0 makes a private context. */
export interface NativeContextOptions {
  contextSize: number;
  threads: number;
  batchSize: number;
  sequences: number;
  cacheSize: number;
}

export interface NativeContext {
  /** [sync] A session decoding on this context. Throws ERR_DISPOSED. */
  createSession(): NativeSession;
  /** [sync] Throws ERR_DISPOSED. */
  metrics(): ContextMetrics;
  /** [sync] Aborts what still runs; the llama.cpp context is freed once its sessions are disposed too. */
  dispose(): void;
}

/** A scoring request as the addon reads it (lib/scorer.ts validated it). */
export interface NativeScoreRequest {
  systemPrompt: string;
  turns: { role: 'user' | 'assistant'; content: string }[];
  /** Text (tokenised natively as plain text) or token ids. */
  continuation: string | number[];
}

export interface NativeScoreResult {
  tokens: number[];
  logProbs: Float32Array;
  promptTokens: number;
  evaluatedTokens: number;
  reusedTokens: number;
  ms: number;
}

export interface NativeScorer {
  /** [async] Scores on a worker thread. Throws ERR_DISPOSED, ERR_BUSY. */
  score(request: NativeScoreRequest): { promise: Promise<NativeScoreResult>; abort(): void };
  /** [sync] Aborts a running score and releases the context once it has stopped. */
  dispose(): void;
}

/** A loaded model (`loadModel`'s result, wrapped by the public Model). */
export interface NativeModel {
  info(): ModelInfo;
  createContext(options: NativeContextOptions): NativeContext;
  createScorer(options: { contextSize: number; threads: number; batchSize: number }): NativeScorer;
  /** [async] The conversation rendered with the chat template, the assistant's turn opened. Rejects with ERR_TEMPLATE. */
  formatChat(systemPrompt: string, turns: { role: 'user' | 'assistant'; content: string }[]): Promise<string>;
  dispose(): void;
}

/** A beam search as the addon reads it (all fields present; lib/beam-search.ts validated them). */
export interface NativeBeamSearchRequest {
  systemPrompt: string;
  /** Preference texts, joined to the system prompt natively as for the `pref` method. */
  preferences: string[];
  turns: { role: 'user' | 'assistant'; content: string }[];
  beams: number;
  maxTokens: number;
  lengthPenalty: number;
  threads: number;
  batchSize: number;
}

export interface NativeBeamSearchResult {
  text: string;
  tokens: number[];
  sumLogProb: number;
  score: number;
  stopped: boolean;
  promptTokens: number;
  decodedTokens: number;
  promptMs: number;
  generationMs: number;
}

/** [async] A running beam search: its result, and abort() to stop it between two steps. */
export interface NativeBeamSearch {
  promise: Promise<NativeBeamSearchResult>;
  abort(): void;
}

export interface NativeBinding {
  /**
   * [async] Loads a GGUF off the JS thread, connecting to the RPC servers first. Rejects with
   * ERR_MODEL_LOAD, ERR_INVALID_OPTION, ERR_RPC_UNREACHABLE, ERR_RPC_VERSION, ERR_RPC_DISCONNECTED or ERR_ABORTED.
   */
  loadModel(
    path: string,
    options: { gpuLayers: number; useMmap: boolean; chatTemplate: string; rpcServers: readonly string[];
      tensorSplit: readonly number[] },
    onProgress?: (fraction: number) => void,
  ): Promise<NativeModel>;
  /** [sync] Native failures become errors made by this factory (an AmuletError with the code). */
  setErrorFactory(factory: (code: string, message: string) => Error): void;
  /** [sync] The guidance scale s of a realignment. Throws ERR_INVALID_OPTION. */
  guidanceScale(realign: NativeRealign): number;
  /** [sync] llama.cpp's system line, whether a local GPU can take layers, the RPC backend and every backend. */
  systemInfo(): { system: string; gpuOffload: boolean; rpc: boolean; backends: string[] };
  /** [async] Runs a beam search on its own context, off the JS thread. Throws ERR_DISPOSED. */
  beamSearch(model: NativeModel, request: NativeBeamSearchRequest): NativeBeamSearch;
}

