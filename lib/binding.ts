/**
 * The typed contract of the native addon (native/addon/) and its loader.
 * Names are camelCase here and mapped to llama.cpp's snake_case once, in
 * native/addon/generation_request_parser.cpp. Internal: not exported from the
 * package entry point.
 *
 * @packageDocumentation
 */
import fs from 'node:fs';
import path from 'node:path';
import { AmuletError, type AmuletErrorCode } from './errors';
import type { ModelInfo } from './model';
import type { SystemInfo } from './system-info';
import type { RealignOn } from './options';

/** Realignment settings as the addon reads them (all fields present). */
export interface NativeRealign {
  method: string;
  alpha: number;
  lambda: number;
  eta: number;
  iterations: number;
  ratio: number;
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

export interface NativeGenerationRequest {
  systemPrompt: string;
  turns: { role: 'user' | 'assistant'; content: string }[];
  preferences: { text: string; weight: number }[];
  realign: NativeRealign;
  sampling: NativeSampling;
  maxTokens: number;
  trace: boolean;
  captureLogits: boolean;
  /** Absent: `'auto'`. */
  realignOn?: RealignOn;
  contextOverflow: 'error' | 'dropOldestTurns';
  /** Test hook: a native failure to provoke at the `atToken`-th generation step. */
  fault?: NativeFault;
}

/** A native failure provoked on purpose (tests of the error paths). */
export interface NativeFault {
  kind: 'exception' | 'allocation' | 'decode';
  atToken: number;
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
  capture?: { rows: Float32Array[]; realignedLogProbs: Float32Array };
}

export interface NativeOutcome {
  finishReason: 'stop' | 'maxTokens' | 'contextFull' | 'aborted';
  tailText: string;
  promptTokens: number;
  evaluatedTokens: number;
  reusedTokens: number;
  droppedMessages: number;
  generatedTokens: number;
  sequences: number;
  promptMs: number;
  generationMs: number;
  samplerUs: number;
  realignedOn: 'cpu' | 'backend';
  guidanceScale: number;
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
  /** [sync] Starts a generation on its own thread. Throws ERR_BUSY, ERR_DISPOSED. */
  generate(request: NativeGenerationRequest): NativeGeneration;
  /** [sync] Aborts a running generation and releases the context once it has stopped. */
  dispose(): void;
}

export type NativeModelInfo = ModelInfo;

export interface NativeModel {
  info(): NativeModelInfo;
  createSession(options: { contextSize: number; threads: number; batchSize: number }): NativeSession;
  dispose(): void;
}

/** A beam search as the addon reads it (all fields present; lib/beam-search.ts validated them). */
/**
 * A text as it crosses into native code: llama.cpp takes C strings, so a NUL
 * would cut the text short; it travels as U+FFFD instead. @internal
 */
export function cString(value: string): string {
  return value.replaceAll('\u0000', '\uFFFD');
}

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
  loadModel(
    path: string,
    options: { gpuLayers: number; useMmap: boolean; chatTemplate: string },
    onProgress?: (fraction: number) => void,
  ): Promise<NativeModel>;
  setErrorFactory(factory: (code: string, message: string) => Error): void;
  guidanceScale(realign: NativeRealign): number;
  systemInfo(): SystemInfo;
  /** [async] Runs a beam search on its own context, off the JS thread. Throws ERR_DISPOSED. */
  beamSearch(model: NativeModel, request: NativeBeamSearchRequest): NativeBeamSearch;
}

let loaded: NativeBinding | undefined;

/** The folder of amulet-llm's package.json, whether running from lib/ (tests) or dist/lib/. */
function packageRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: string }).name === 'amulet-llm') {
      return dir;
    }
    if (path.dirname(dir) === dir) throw new Error(`no amulet-llm package.json above ${__dirname}`);
  }
}

/** The addon, loaded on first use (a prebuild, or the local build in build/Release). */
export function nativeBinding(): NativeBinding {
  if (loaded) return loaded;
  try {
    // node-gyp-build finds build/Release/amulet.node, then prebuilds/<platform>-<arch>/.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const load = require('node-gyp-build') as (root: string) => NativeBinding;
    loaded = load(packageRoot());
  } catch (error) {
    throw new AmuletError(
      'ERR_NATIVE_MISSING',
      `the amulet-llm native addon could not be loaded (${String(error)}); build it from source with ` +
        '`npm rebuild amulet-llm` (its install script approved: `npm install-scripts approve amulet-llm`), ' +
        'or `npm run build` in a checkout',
      { cause: error },
    );
  }
  loaded.setErrorFactory((code, message) => new AmuletError(code as AmuletErrorCode, message));
  return loaded;
}
