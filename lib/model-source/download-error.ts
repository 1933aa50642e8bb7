/**
 * The error a failed model download raises: an {@link AmuletError} that also
 * carries the URL (without credentials) and the HTTP status, when there was one.
 *
 * @packageDocumentation
 */

import { AmuletError, type AmuletErrorCode } from '../errors';

/** The codes a {@link DownloadError} can have. */
export type DownloadErrorCode = Extract<
  AmuletErrorCode,
  'ERR_DOWNLOAD' | 'ERR_DOWNLOAD_AUTH' | 'ERR_MODEL_NOT_FOUND' | 'ERR_CHECKSUM'
>;

/** A model download that failed; `code` says how, `status` gives the HTTP status when a server answered. */
export class DownloadError extends AmuletError {
  /** The URL that was requested, without user name, password or token. */
  readonly url: string;
  /** The HTTP status of the failing answer, or undefined for network and checksum failures. */
  readonly status: number | undefined;

  constructor(
    code: DownloadErrorCode,
    message: string,
    details: { readonly url: string; readonly status?: number; readonly cause?: unknown },
  ) {
    super(code, message, details.cause === undefined ? undefined : { cause: details.cause });
    this.url = details.url;
    this.status = details.status;
  }
}
