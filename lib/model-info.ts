/**
 * What the addon reports about a loaded model: {@link ModelInfo} and the
 * devices it lives on. A leaf module, so that the addon contract
 * (addon-types.ts) and the public Model share one definition.
 *
 * @packageDocumentation
 */

/** A device that holds part of a model: the CPU, a local GPU or an RPC server's device. */
export interface DeviceInfo {
  /** ggml's name for it: `CPU`, `CUDA0`, `RPC0`, ... */
  name: string;
  /** What it is; for an RPC device, the server's `host:port`. */
  description: string;
  /** The kind of device: this machine's CPU, a local GPU, or an RPC server's device. */
  kind: 'cpu' | 'gpu' | 'rpc';
  /** The repeating layers it holds, first and last (inclusive); null when it holds none. */
  layers: readonly [number, number] | null;
  /** Whether it holds the output layer, and so computes the logits. */
  output: boolean;
  /** Its free and total memory in bytes when the model was loaded, as the device reports them. */
  memory: {
    /** Free bytes. */
    readonly free: number;
    /** Total bytes. */
    readonly total: number;
  };
}

/** Facts about a loaded model. */
export interface ModelInfo {
  /** llama.cpp's one-line description (architecture, size, quantisation). */
  description: string;
  /**
   * The chat template prompts are rendered with: the Jinja source, or the
   * name (or text) handed to llama.cpp's built-in renderer (`'chatml'` for
   * the ChatML fallback).
   */
  chatTemplate: string;
  /**
   * Where the chat template comes from and how it is rendered:
   * - `'gguf'`: the GGUF's `tokenizer.chat_template`, through llama.cpp's Jinja engine;
   * - `'option'`: the Jinja text given as `chatTemplate`;
   * - `'builtin'`: a built-in template name given as `chatTemplate`, or a
   *   Jinja template that failed and that llama.cpp's built-in renderer recognises;
   * - `'chatml-fallback'`: ChatML, for a model without a template or a
   *   template nothing could render.
   *
   * Templates that print the date or time print the session's start: a
   * conversation renders the same every turn, so its KV cache is reused.
   */
  chatTemplateSource: 'gguf' | 'option' | 'builtin' | 'chatml-fallback';
  /** Why the template asked for is not the one used (set only when a fallback happened). */
  chatTemplateWarning?: string;
  /** Tokens in the vocabulary (the length of a logits row). */
  vocabularySize: number;
  /** The context length the model was trained with. */
  trainContextSize: number;
  /** The size of the model's tensors, in bytes. */
  sizeBytes: number;
  /** The number of parameters. */
  parameters: number;
  /** The model's repeating (transformer) layers. */
  layerCount: number;
  /** How many of those layers are on a GPU or an RPC server: `min(gpuLayers, layerCount)`. */
  offloadedLayers: number;
  /**
   * Whether the output layer, and so the logits, is on a GPU of this machine
   * (`gpuLayers` above `layerCount`, or `'max'`): then `realignOn: 'auto'`
   * realigns in the compute graph.
   */
  outputOnGpu: boolean;
  /**
   * Where the model lives, device by device: the CPU first (it always holds
   * the token embeddings), then the offload devices, remote ones included.
   */
  devices: readonly DeviceInfo[];
}
