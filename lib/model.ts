/**
 * {@link loadModel} and {@link Model}: a local GGUF model, loaded once and
 * shared by any number of sessions.
 *
 * @packageDocumentation
 */
import { open } from 'node:fs/promises';
import { runBeamSearch, type RunningBeamSearch, type BeamSearchOptions, type BeamSearchResult } from './beam-search';
import { cString, nativeBinding } from './addon';
import { resolveModelFile, type DownloadProgressCallback } from './model-source';
import type { NativeModel } from './addon-types';
import type { ModelInfo } from './model-info';
import { AmuletError } from './errors';
import { describeValue, MAX_GPU_LAYERS, rules } from './option-rules';
import { objectOption, optionValue } from './options';
import { Scorer, type Continuation, type ScoreConversation, type ScoreOptions, type ScoreResult,
  type ScorerOptions } from './scorer';
import { Context, nativeContextOptions, type ContextOptions } from './context';
import { checkMessages, Session, type ChatMessage, type SessionOptions } from './session';

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
   * Layers to offload to the GPU or the RPC servers (default 0, or `'max'`
   * with `rpcServers`; needs a GPU build or `rpcServers`). `'max'`, or any
   * number above the model's layer count, offloads every layer and the output
   * layer. llama.cpp offloads the last layers: the first `layerCount -
   * gpuLayers` stay on the CPU.
   */
  gpuLayers?: number | 'max';
  /**
   * llama.cpp RPC servers (`npx amulet rpc-server`), as `'host:port'`, whose
   * devices take the offloaded layers: in this order, before any local GPU,
   * in proportion to their free memory unless `tensorSplit` says otherwise.
   * The servers are connected while the model loads (`ERR_RPC_UNREACHABLE`,
   * `ERR_RPC_VERSION`) and for as long as it lives; losing one fails the
   * current call with `ERR_RPC_DISCONNECTED`. A server serves one client at
   * a time, and anyone who can reach it can use it: see
   * docs/guide/rpc-and-scale-out.md.
   */
  rpcServers?: readonly string[];
  /**
   * Each offload device's share of the offloaded layers (non-negative, not
   * all 0): one number per device, the RPC servers' devices first (one each,
   * for a CPU worker), then the local GPUs. Default: in proportion to each
   * device's free memory, as llama.cpp does.
   */
  tensorSplit?: readonly number[];
  /** Memory-map the file instead of reading it (default true). */
  useMmap?: boolean;
  /**
   * The chat template prompts are rendered with (see
   * {@link ModelInfo.chatTemplateSource}):
   * - a template name llama.cpp has built in (`'chatml'`, `'gemma'`,
   *   `'llama3'`, ...): llama.cpp's own renderer for it;
   * - any other text: a Jinja template, rendered like the GGUF's own (text
   *   with no Jinja tag at all is refused with `ERR_INVALID_OPTION`, being
   *   most likely a misspelt name);
   * - empty (default): the GGUF's `tokenizer.chat_template`, through Jinja.
   *
   * A Jinja template that cannot be parsed or rendered does not fail the
   * load: llama.cpp's built-in renderer takes it if it recognises it, else
   * ChatML, and {@link ModelInfo.chatTemplateWarning} says so.
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

export type { DeviceInfo, ModelInfo } from './model-info';

/** Options of {@link Model.formatChat}. */
export interface FormatChatOptions {
  /** The system prompt (default "You are a helpful assistant."; none when empty). */
  systemPrompt?: string;
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
 * `ERR_MODEL_NOT_FOUND`, `ERR_MODEL_LOAD`, `ERR_INVALID_OPTION`, with
 * `rpcServers` `ERR_RPC_UNREACHABLE`, `ERR_RPC_VERSION` or
 * `ERR_RPC_DISCONNECTED`, and for downloads `ERR_DOWNLOAD`,
 * `ERR_DOWNLOAD_AUTH`, `ERR_CHECKSUM` or `ERR_ABORTED`.
 */
export async function loadModel(options: LoadModelOptions | string): Promise<Model> {
  const settings = objectOption('options', typeof options === 'string' ? { path: options } : options);
  const path = settings.path;
  if (typeof path !== 'string' || path === '') {
    throw new AmuletError('ERR_INVALID_OPTION', 'path must name a GGUF file');
  }
  const rpcServers = optionValue(rules.rpcServers, settings.rpcServers);
  if (new Set(rpcServers).size !== rpcServers.length) {
    throw new AmuletError('ERR_INVALID_OPTION', `rpcServers names a server twice (got ${describeValue(rpcServers)})`);
  }
  const tensorSplit = optionValue(rules.tensorSplit, settings.tensorSplit);
  const gpuLayers = settings.gpuLayers === 'max' || (settings.gpuLayers === undefined && rpcServers.length > 0)
    ? MAX_GPU_LAYERS
    : optionValue(rules.gpuLayers, settings.gpuLayers);
  const useMmap = optionValue(rules.useMmap, settings.useMmap);
  const chatTemplate = optionValue(rules.chatTemplate, settings.chatTemplate);
  const onProgress = settings.onProgress;
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw new AmuletError('ERR_INVALID_OPTION', 'onProgress must be a function');
  }
  const binding = nativeBinding();
  if (gpuLayers > 0 && rpcServers.length === 0 && !binding.systemInfo().gpuOffload) {
    throw new AmuletError('ERR_INVALID_OPTION',
      'gpuLayers > 0 needs rpcServers, or a GPU variant of amulet-llm (Vulkan or CUDA) and a GPU');
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
  const native = await binding.loadModel(file, { gpuLayers, useMmap, chatTemplate, rpcServers, tensorSplit }, report);
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
  readonly #contexts = new Set<Context>();
  readonly #scorers = new Set<Scorer>();
  readonly #beamSearches = new Set<RunningBeamSearch>();
  #disposed = false;

  /** @internal Use {@link loadModel}. */
  constructor(native: NativeModel, path: string) {
    this.#native = native;
    this.path = path;
    const info = native.info();
    this.info = Object.freeze({
      ...info,
      devices: Object.freeze(info.devices.map((device) => Object.freeze({
        ...device,
        layers: device.layers && Object.freeze(device.layers),
        memory: Object.freeze(device.memory),
      }))),
    });
  }

  /** True once {@link Model.dispose} has been called. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * A new conversation with a context of its own, which it alone decodes on.
   * Creating it is cheap: the context is allocated on the first prompt, off
   * the JavaScript thread, and sized for what that prompt decodes (made
   * again, larger, when a later prompt decodes more sequences). For many
   * conversations decoding together, make them on one {@link Context}.
   */
  createSession(options: SessionOptions = {}): Session {
    if (this.#disposed) throw new AmuletError('ERR_DISPOSED', 'the model has been disposed');
    const settings = objectOption('options', options);
    const context = this.#native.createContext(nativeContextOptions(settings, 0));
    let session: Session | undefined;
    try {
      const native = context.createSession();
      // Validates the session options before any native memory is committed.
      session = new Session(native, this.info.vocabularySize, settings, (disposed) => {
        context.dispose();
        this.#sessions.delete(disposed);
      });
    } finally {
      if (!session) context.dispose();
    }
    this.#sessions.add(session);
    return session;
  }

  /**
   * A context that many sessions share ({@link Context.createSession}):
   * their generations decode together, in one batched decode per step.
   * Creating it is cheap: its memory is allocated by its first generation,
   * off the JavaScript thread.
   *
   * @throws AmuletError ERR_INVALID_OPTION, ERR_DISPOSED.
   */
  createContext(options: ContextOptions = {}): Context {
    if (this.#disposed) throw new AmuletError('ERR_DISPOSED', 'the model has been disposed');
    const settings = objectOption('options', options);
    const nativeOptions = nativeContextOptions(settings, optionValue(rules.sequences, settings.sequences));
    const context = new Context(this.#native.createContext(nativeOptions), nativeOptions, this.info.vocabularySize,
      (disposed) => this.#contexts.delete(disposed));
    this.#contexts.add(context);
    return context;
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
   * The prompt a session would decode for `messages`: the system prompt
   * (default that of {@link SessionOptions.systemPrompt}; none when empty),
   * then the messages, rendered with the model's chat template and ending
   * with the assistant's turn opened. Rendered off the JavaScript thread.
   * Rejects with `ERR_TEMPLATE` when the template fails on these messages.
   */
  formatChat(messages: readonly ChatMessage[], options: FormatChatOptions = {}): Promise<string> {
    if (this.#disposed) throw new AmuletError('ERR_DISPOSED', 'the model has been disposed');
    const settings = objectOption('options', options);
    const systemPrompt = optionValue(rules.systemPrompt, settings.systemPrompt);
    const turns = checkMessages(messages, 'messages');
    return this.#native.formatChat(cString(systemPrompt),
      turns.map((message) => ({ ...message, content: cString(message.content) })));
  }

  /**
   * Beam search over the preference prompt (the paper's beam-search
   * baseline), on a context of its own, off the JavaScript thread. Rejects
   * with `ERR_ABORTED` when `signal` fires or the model is disposed, `ERR_CONTEXT_CREATE`, `ERR_DECODE`.
   */
  beamSearch(question: string, options: BeamSearchOptions = {}): Promise<BeamSearchResult> {
    if (this.#disposed) throw new AmuletError('ERR_DISPOSED', 'the model has been disposed');
    const search = runBeamSearch(nativeBinding(), this.#native, question, options);
    this.#beamSearches.add(search);
    void search.result.then(() => undefined, () => undefined).then(() => this.#beamSearches.delete(search));
    return search.result;
  }

  /** Disposes every context, session and scorer of this model and aborts its beam searches, then frees the model. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    const searches = [...this.#beamSearches];
    for (const search of searches) search.abort();
    await Promise.all([...this.#contexts].map((context) => context.dispose()));
    await Promise.all([...this.#sessions].map((session) => session.dispose()));
    await Promise.all([...this.#scorers].map((scorer) => scorer.dispose()));
    await Promise.all(searches.map((search) => search.result.catch(() => undefined)));
    this.#native.dispose();
  }

  /** Disposes it, for `await using`: the same as `dispose()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}
