/**
 * amulet-llm: personalise a local LLM's output while it decodes, with the
 * Amulet test-time realignment (Zhang et al., ICLR 2025) over llama.cpp.
 *
 * ```ts
 * import { loadModel } from 'amulet-llm';
 * await using model = await loadModel({ path: 'model.gguf' });
 * const session = model.createSession({ preferences: ['Be concise.'] });
 * for await (const chunk of session.prompt('How do I boil an egg?')) process.stdout.write(chunk.text);
 * ```
 *
 * @packageDocumentation
 */
import { nativeBinding } from './addon';
import { objectOption, resolveRealign, type RealignOptions } from './options';

export { AmuletError, isAmuletError, type AmuletErrorCode } from './errors';
export { loadModel, Model, type DeviceInfo, type FormatChatOptions, type LoadModelOptions, type ModelInfo } from './model';
export type { BeamSearchOptions, BeamSearchResult } from './beam-search';
export {
  Scorer,
  type Continuation,
  type ScoreConversation,
  type ScoreOptions,
  type ScoreResult,
  type ScorerOptions,
} from './scorer';
export {
  DownloadError,
  parseModelReference,
  resolveModelFile,
  type DownloadErrorCode,
  type DownloadProgress,
  type DownloadProgressCallback,
  type HubFileReference,
  type HubQuantReference,
  type LocalModelReference,
  type ModelReference,
  type ResolveModelFileOptions,
  type UrlModelReference,
} from './model-source';
export { systemInfo, type SystemInfo } from './system-info';
export type { AddonVariant } from './addon-variant';
export {
  AmuletServer,
  createServer,
  type AmuletChunkTrace,
  type AmuletInfo,
  type AmuletTokenTrace,
  type AmuletTopToken,
  type CompletionRecord,
  type CompletionUsage,
  type ServerOptions,
  type ServerRequestRecord,
  type ServerStatus,
} from './server';
export type { JsonSchema } from './option-rules';
export { rpcServerPath } from './rpc-server-path';
export { Context, type ContextOptions, type ContextSessionOptions } from './context';
export type { ContextMetrics } from './context-metrics';
export { Session, type ChatMessage, type ContextOverflow, type PromptOptions, type SessionOptions } from './session';
export {
  GenerationStream,
  type FinishReason,
  type GenerationResult,
  type LogitCapture,
  type TextChunk,
  type TokenTrace,
} from './generation';
export {
  defaults,
  realignMethods,
  realignOnValues,
  samplingDefaults,
  type OutputControls,
  type Preference,
  type PreferenceInput,
  type RealignMethod,
  type RealignOn,
  type RealignOptions,
  type SamplingOptions,
} from './options';

/**
 * The guidance scale s that a configuration amounts to: the realigned
 * distribution is softmax(l_p + s (l_p − l_b)). For `amulet`, s = a_K − 1,
 * where a_K follows from the collapsed online-learning loop (1.5338 with the
 * defaults, 4.6487 with the paper's α = 2).
 */
export function guidanceScale(options: RealignOptions = {}): number {
  return nativeBinding().guidanceScale(resolveRealign(objectOption('options', options)));
}
