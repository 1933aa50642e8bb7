/**
 * Retrying of transient download failures (a dropped connection, a 503),
 * with a growing pause, and the turning of an abort into `ERR_ABORTED`.
 *
 * @packageDocumentation
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { AmuletError } from '../errors';
import type { DownloadError } from './download-error';

/** A failure that may pass if the work is tried again; wraps the error to raise when the tries run out. */
export class TransientFailure extends Error {
  constructor(readonly error: DownloadError) {
    super(error.message, { cause: error });
    this.name = 'TransientFailure';
  }
}

/** Tries in a row without progress before giving up. */
const MAX_TRIES_WITHOUT_PROGRESS = 4;

/** The first pause between tries; each further one doubles it. */
const FIRST_PAUSE_MS = 250;

/**
 * Runs `work` until it succeeds, again after each {@link TransientFailure}.
 * Work that reports progress (through the callback it receives) before
 * failing earns a fresh set of tries, so a long download over a flaky line
 * goes on as long as it moves.
 *
 * @param what - The download, for the abort message.
 * @throws AmuletError `ERR_ABORTED` when `signal` fires; the last transient
 *   failure's error when the tries run out; any other error at once.
 */
export async function withRetries<T>(
  what: string,
  signal: AbortSignal,
  work: (reportProgress: () => void) => Promise<T>,
): Promise<T> {
  let failures = 0;
  let progressed = false;
  const reportProgress = (): void => {
    progressed = true;
  };
  for (;;) {
    try {
      if (signal.aborted) throw signal.reason;
      return await work(reportProgress);
    } catch (error) {
      if (signal.aborted) throw abortedError(what, signal);
      if (!(error instanceof TransientFailure)) throw error;
      failures = progressed ? 1 : failures + 1;
      progressed = false;
      if (failures >= MAX_TRIES_WITHOUT_PROGRESS) throw error.error;
      try {
        await sleep(FIRST_PAUSE_MS * 2 ** (failures - 1), undefined, { signal });
      } catch {
        throw abortedError(what, signal);
      }
    }
  }
}

/** The `ERR_ABORTED` error for a download stopped by its signal. */
export function abortedError(what: string, signal: AbortSignal): AmuletError {
  return new AmuletError(
    'ERR_ABORTED',
    `The download of ${what} was aborted; what was downloaded is kept, and asking for the model again resumes it.`,
    { cause: signal.reason },
  );
}
