/**
 * {@link loadModel} and {@link Model}: a local GGUF model, loaded once and
 * shared by any number of sessions.
 *
 * @packageDocumentation
 */
import { open } from 'node:fs/promises';
import { runBeamSearch, type BeamSearchOptions, type BeamSearchResult } from './beam-search';
import { nativeBinding } from './addon';
import { resolveModelFile, type DownloadProgressCallback } from './model-source';
import type { NativeModel } from './addon-types';
import { AmuletError } from './errors';
import { MAX_GPU_LAYERS, rules } from './option-rules';
import { objectOption, optionValue } from './options';
import { Scorer, type Continuation, type ScoreConversation, type ScoreOptions, type ScoreResult,
  type ScorerOptions } from './scorer';
import { Session, type SessionOptions } from './session';

/** Options of {@link loadModel}. */
export interface LoadModelOptions {
  /**
   * The model: a local GGUF path, a Hugging Face file
   * (`hf:<owner>/<repo>/<file.gguf>[@<revision>]`), a repository's
   * quantisation (`hf:<owner>/<repo>[:<quant>][@<revision>]`, default Q4_K_M)
   * or an `https://` URL. A reference is downloaded once into the cache
   * folder (with resume, and the hub's sha256 checked) and loaded from there.
   */
  path: string;
  /** Where downloads are kept (default `$AMULET_MODELS_DIR`, else `~/.cache/amulet-llm/models`). */
  cacheDir?: string;
  /** Hugging Face access token (default `$HF_TOKEN`); sent to the hub only, never to a CDN it redirects to. */
  token?: string;
  /** Hugging Face endpoint or mirror (default `$HF_ENDPOINT`, else https://huggingface.co). */
  endpoint?: string;
  /** Use only what the cache holds; never reach the network (default `$HF_HUB_OFFLINE`). */
  offline?: boolean;
  /** The sha256 a downloaded `https://` file must have. */
  sha256?: string;
  /** Called during a download, at most about ten times a second. */
  onDownloadProgress?: DownloadProgressCallback;
  /** Cancels a download (the bytes so far are kept to resume); rejects with `ERR_ABORTED`. */
  signal?: AbortSignal;
  /**
   * Layers to offload to the GPU (default 0; needs a CUDA build). `'max'`, or
   * any number above the model's layer count, offloads every layer and the
   * output layer.
   */
  gpuLayers?: number | 'max';
  /** Memory-map the file instead of reading it (default true). */
  useMmap?: boolean;
  /**
   * The chat template: a template name llama.cpp knows (`'chatml'`, `'gemma'`,
   * `'llama3'`, ...) or template text. Default: the template in the GGUF's
   * metadata, else ChatML.
   */
  chatTemplate?: string;
  /**
   * Called on the JavaScript thread with the fraction loaded: non-decreasing,
   * at most once per percent, ending with 1 once loaded, all before the returned
   * promise settles (the CLI draws its progress bar with it). An exception it
   * throws is ignored.
   */
  onProgress?: (fraction: number) => void;
}

/** Facts about a loaded model. */
export interface ModelInfo {
  /** llama.cpp's one-line description (architecture, size, quantisation). */
  description: string;
  /** The chat template prompts are rendered with (empty: ChatML fallback). */
  chatTemplate: string;
  vocabularySize: number;
  /** The context length the model was trained with. */
  trainContextSize: number;
  sizeBytes: number;
  parameters: number;
  /** The model's repeating (transformer) layers. */
  layerCount: number;
  /** How many of those layers are on the GPU: `min(gpuLayers, layerCount)`. */
  offloadedLayers: number;
  /**
   * Whether the output layer, and so the logits, is on the GPU (`gpuLayers`
   * above `layerCount`, or `'max'`): then `realignOn: 'auto'` realigns in the
   * compute graph.
   */
  outputOnGpu: boolean;
}

const GGUF_MAGIC = 'GGUF';

/** Fails early, with a clear code, on a missing file or one that is not GGUF at all. */
async function checkModelFile(path: string): Promise<void> {
  let magic: string;
  try {
    const file = await open(path, 'r');
    try {
      const { buffer, bytesRead } = await file.read(Buffer.alloc(4), 0, 4, 0);
      magic = buffer.subarray(0, bytesRead).toString('latin1');
    } finally {
      await file.close();
    }
  } catch (error) {
    throw new AmuletError('ERR_MODEL_NOT_FOUND', `cannot read model file ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (magic !== GGUF_MAGIC) throw new AmuletError('ERR_MODEL_LOAD', `${path} is not a GGUF file`);
}

/**
 * Loads a GGUF model, fetching it first when `path` is a Hugging Face
 * reference or a URL. Loading runs off the JavaScript thread. Rejects with
 * `ERR_MODEL_NOT_FOUND`, `ERR_MODEL_LOAD`, and for downloads `ERR_DOWNLOAD`,
 * `ERR_DOWNLOAD_AUTH`, `ERR_CHECKSUM` or `ERR_ABORTED`.
 */
export async function loadModel(options: LoadModelOptions | string): Promise<Model> {
  const settings = objectOption('options', typeof options === 'string' ? { path: options } : options);
  const path = settings.path;
  if (typeof path !== 'string' || path === '') {
    throw new AmuletError('ERR_INVALID_OPTION', 'path must name a GGUF file');
  }
  const gpuLayers = settings.gpuLayers === 'max' ? MAX_GPU_LAYERS : optionValue(rules.gpuLayers, settings.gpuLayers);
  const useMmap = optionValue(rules.useMmap, settings.useMmap);
  const chatTemplate = optionValue(rules.chatTemplate, settings.chatTemplate);
  const onProgress = settings.onProgress;
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw new AmuletError('ERR_INVALID_OPTION', 'onProgress must be a function');
  }
  const binding = nativeBinding();
  if (gpuLayers > 0 && !binding.systemInfo().gpuOffload) {
    throw new AmuletError('ERR_INVALID_OPTION',
      'gpuLayers > 0 needs a GPU build of amulet-llm (npm run build:cuda) and a GPU');
  }
  const file = await resolveModelFile(path, {
    cacheDir: settings.cacheDir, token: settings.token, endpoint: settings.endpoint, offline: settings.offline,
    sha256: settings.sha256, onProgress: settings.onDownloadProgress, signal: settings.signal,
  });
  await checkModelFile(file);
  const report = onProgress && ((fraction: number): void => {
    try {
      onProgress(fraction);
    } catch {
      // A throwing progress callback must not take loading (or the process) down.
    }
  });
  const native = await binding.loadModel(file, { gpuLayers, useMmap, chatTemplate }, report);
  return new Model(native, file);
}

/** A loaded model. Dispose it (or use `await using`) to free its memory. */
export class Model {
  /** The GGUF file this model was loaded from (the cached download, for a reference). */
  readonly path: string;
  /** Facts about the model. */
  readonly info: ModelInfo;
  readonly #native: NativeModel;
  readonly #sessions = new Set<Session>();
  readonly #scorers = new Set<Scorer>();
  #disposed = false;

  /** @internal Use {@link loadModel}. */
  constructor(native: NativeModel, path: string) {
    this.#native = native;
    this.path = path;
    this.info = Object.freeze(native.info());
  }

  /** True once {@link Model.dispose} has been called. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * A new conversation with its own context. Creating it is cheap: the
   * context is allocated on the first prompt, off the JavaScript thread.
   */
  createSession(options: SessionOptions = {}): Session {
    if (this.#disposed) throw new AmuletError('ERR_DISPOSED', 'the model has been disposed');
    const settings = objectOption('options', options);
    const nativeOptions = {
      contextSize: optionValue(rules.contextSize, settings.contextSize),
      threads: optionValue(rules.threads, settings.threads),
      batchSize: optionValue(rules.batchSize, settings.batchSize),
    };
    // Validates the session options before any native memory is committed.
    let session: Session | undefined;
    const native = this.#native.createSession(nativeOptions);
    try {
      session = new Session(native, settings, (disposed) => this.#sessions.delete(disposed));
    } finally {
      if (!session) native.dispose();
    }
    this.#sessions.add(session);
    return session;
  }

  /**
   * A {@link Scorer}: log-probabilities of given continuations after a
   * conversation, on a context of its own (allocated on its first call, off
   * the JavaScript thread), which keeps what consecutive calls share.
   */
  createScorer(options: ScorerOptions = {}): Scorer {
    if (this.#disposed) throw new AmuletError('ERR_DISPOSED', 'the model has been disposed');
    const settings = objectOption('options', options);
    const native = this.#native.createScorer({
      contextSize: optionValue(rules.contextSize, settings.contextSize),
      threads: optionValue(rules.threads, settings.threads),
      batchSize: optionValue(rules.batchSize, settings.batchSize),
    });
    const scorer = new Scorer(native, this.info.vocabularySize, (disposed) => this.#scorers.delete(disposed));
    this.#scorers.add(scorer);
    return scorer;
  }

  /**
   * The log-probability of each token of `continuation` (text or token ids)
   * after `conversation`, in one batched decode with no generation, off the
   * JavaScript thread: e.g. how natural an answer is under a prompt. One
   * call on a scorer of its own; use {@link Model.createScorer} to score
   * many. Rejects as {@link Scorer.score} does.
   */
  async score(conversation: ScoreConversation, continuation: Continuation,
    options: ScorerOptions & ScoreOptions = {}): Promise<ScoreResult> {
    const { signal, ...scorerOptions } = objectOption('options', options);
    const scorer = this.createScorer(scorerOptions);
    try {
      return await scorer.score(conversation, continuation, { signal });
    } finally {
      await scorer.dispose();
    }
  }

  /**
   * Beam search over the preference prompt (the paper's beam-search
   * baseline), on a context of its own, off the JavaScript thread. Rejects
   * with `ERR_ABORTED` when `signal` fires, `ERR_CONTEXT_CREATE`, `ERR_DECODE`.
   */
  beamSearch(question: string, options: BeamSearchOptions = {}): Promise<BeamSearchResult> {
    if (this.#disposed) throw new AmuletError('ERR_DISPOSED', 'the model has been disposed');
    return runBeamSearch(nativeBinding(), this.#native, question, options);
  }

  /** Disposes every session and scorer of this model, then frees the model. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await Promise.all([...this.#sessions].map((session) => session.dispose()));
    await Promise.all([...this.#scorers].map((scorer) => scorer.dispose()));
    this.#native.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}
