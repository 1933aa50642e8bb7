/**
 * The one error class of amulet-llm. Every failure, from option validation in
 * TypeScript to a failed decode in C++, surfaces as an {@link AmuletError}
 * with a stable {@link AmuletError.code | code} to branch on.
 *
 * @packageDocumentation
 */

/** Stable error codes. */
export type AmuletErrorCode =
  /** The native addon could not be loaded (no prebuild and no local build). */
  | 'ERR_NATIVE_MISSING'
  /**
   * The model file does not exist or cannot be read; for a download, the
   * server answered 404 (no such repository, revision or file), or the file
   * is not in the cache while offline.
   */
  | 'ERR_MODEL_NOT_FOUND'
  /** The model file is not a usable GGUF model (corrupt, truncated, unsupported). */
  | 'ERR_MODEL_LOAD'
  /** An option has the wrong type or is out of range, or a model reference is malformed. */
  | 'ERR_INVALID_OPTION'
  /** The llama.cpp context could not be created (usually: not enough memory). */
  | 'ERR_CONTEXT_CREATE'
  /** The prompt does not fit in the session's context. */
  | 'ERR_CONTEXT_FULL'
  /** llama.cpp failed to evaluate a batch. */
  | 'ERR_DECODE'
  /** The operation was stopped by an AbortSignal. */
  | 'ERR_ABORTED'
  /** The chat template could not be rendered. */
  | 'ERR_TEMPLATE'
  /** The model or session has been disposed. */
  | 'ERR_DISPOSED'
  /** The object is busy with another call that must finish first. */
  | 'ERR_BUSY'
  /** Any other native failure (an exception in C++, a failed allocation). */
  | 'ERR_NATIVE'
  /**
   * A model download failed: the server could not be reached, the connection
   * kept failing, or it answered an HTTP error (the message gives the status).
   */
  | 'ERR_DOWNLOAD'
  /**
   * The server refused a model download with 401 or 403: the Hugging Face
   * repository is private or gated (set `HF_TOKEN`), or the token was refused.
   */
  | 'ERR_DOWNLOAD_AUTH'
  /** A downloaded model file does not have the expected sha256; the file was deleted. */
  | 'ERR_CHECKSUM'
  /**
   * An RPC server (`rpcServers`) could not be reached: nothing accepts
   * connections at its address, or it did not answer the handshake within
   * 10 s (a worker serves one client at a time).
   */
  | 'ERR_RPC_UNREACHABLE'
  /** An RPC server speaks another protocol version than this build: run the same amulet-llm's `amulet rpc-server`. */
  | 'ERR_RPC_VERSION'
  /**
   * The connection to an RPC server was lost while the model was loading or
   * decoding (the server stopped, or its host vanished). The session and
   * model can only be disposed: every later call on them fails the same way.
   */
  | 'ERR_RPC_DISCONNECTED';

/** An error raised by amulet-llm; `code` says what went wrong. */
export class AmuletError extends Error {
  /** What went wrong, as a stable code. */
  readonly code: AmuletErrorCode;

  constructor(code: AmuletErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AmuletError';
    this.code = code;
  }
}

/** Narrows an unknown thrown value to an {@link AmuletError}, optionally of one code. */
export function isAmuletError(value: unknown, code?: AmuletErrorCode): value is AmuletError {
  return value instanceof AmuletError && (code === undefined || value.code === code);
}
