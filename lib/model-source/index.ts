/**
 * Model sources: from a model reference (a local path, a Hugging Face file
 * or quantisation, or an https URL) to a GGUF file on disk, downloaded into
 * amulet-llm's cache with resume, integrity checks and progress.
 *
 * ```ts
 * import { resolveModelFile } from './model-source';
 * const path = await resolveModelFile('hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf', {
 *   onProgress: ({ fraction }) => console.log(fraction),
 * });
 * ```
 *
 * @packageDocumentation
 */

export { resolveModelFile, type ResolveModelFileOptions } from './resolve';
export { DownloadError, type DownloadErrorCode } from './download-error';
export type { DownloadProgress, DownloadProgressCallback } from './progress';
export {
  parseModelReference,
  type HubFileReference,
  type HubQuantReference,
  type LocalModelReference,
  type ModelReference,
  type UrlModelReference,
} from './reference';
