/**
 * Resumable download of one URL into the cache: the bytes go to a partial
 * download next to the final name, a broken connection or a later call goes
 * on with `Range: bytes=<n>-`, the finished file is checked against its
 * sha256 when one is known, and only then renamed into place.
 *
 * @packageDocumentation
 */

import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { statIfExists } from '../cache-files';
import { writeRecord } from './cache';
import { DownloadError } from './download-error';
import {
  answerError,
  getFollowingRedirects,
  isRetryableStatus,
  networkError,
  redactUrl,
  strongEtagOf,
  type Credentials,
  type HttpAnswer,
} from './http';
import { claimPartialDownload, type PartialDownload, type PartialIdentity } from './partial';
import { TransientFailure, withRetries } from './retry';

/** One file to download. */
export interface DownloadJob {
  /** Where to download it from. */
  readonly url: URL;
  /** Where it goes; the folder is created if needed. */
  readonly finalPath: string;
  /** The token and the origin it may be sent to. */
  readonly credentials: Credentials | undefined;
  /** Whether the URL is on the Hugging Face endpoint, for the advice in error messages. */
  readonly isHub: boolean;
  /** The sha256 the file must have (lowercase hex), besides any the hub publishes. */
  readonly expectedSha256: string | undefined;
  /** Cancels the download, keeping what was received. */
  readonly signal: AbortSignal;
  /** Told the bytes on disk and the whole file's size (when known) as they grow. */
  readonly onBytes: (downloadedBytes: number, totalBytes: number | undefined) => void;
}

/** Requests in a row that a server may answer with a restart (ignored Range, changed file) before it is an error. */
const MAX_RESTARTS_PER_TRY = 2;

/** The bytes received so far, kept in step with their running sha256. */
class Transfer {
  private hash: Hash = createHash('sha256');
  /** Bytes in the file, all of them hashed. */
  bytes = 0;
  /** Whether the bytes go on from ones received before a break, which a changed file would make a mix of two. */
  resumed = false;
  /**
   * The most bytes the file has held. Only bytes beyond it count as progress
   * for retrying, so a server that ignores Range and keeps dropping the
   * connection at the same place runs out of tries instead of looping.
   */
  mostBytes = 0;

  private constructor(private readonly handle: FileHandle) {}

  /** Opens a partial download's data, hashing the bytes it already holds. */
  static async open(partial: PartialDownload): Promise<Transfer> {
    const transfer = new Transfer(await open(partial.dataPath, 'a'));
    if (partial.claimedBytes > 0) {
      for await (const chunk of createReadStream(partial.dataPath, { end: partial.claimedBytes - 1 })) {
        transfer.hash.update(chunk as Buffer);
      }
      transfer.bytes = partial.claimedBytes;
      transfer.mostBytes = partial.claimedBytes;
    }
    return transfer;
  }

  async append(chunk: Uint8Array): Promise<void> {
    await this.handle.write(chunk);
    this.hash.update(chunk);
    this.bytes += chunk.length;
  }

  /** Drops every byte, to start from the beginning. */
  async restart(): Promise<void> {
    await this.handle.truncate(0);
    this.hash = createHash('sha256');
    this.bytes = 0;
    this.resumed = false;
  }

  /** The sha256 of the bytes, lowercase hex; call once, when they are complete. */
  digest(): string {
    return this.hash.digest('hex');
  }

  async flushAndClose(): Promise<void> {
    await this.handle.sync();
    await this.handle.close();
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** The parts of a `Content-Range` header: `bytes <start>-<end>/<total>` or `bytes *\/<total>`. */
function parseContentRange(value: string | null): { start: number | undefined; total: number | undefined } | undefined {
  const match = value === null ? null : /^bytes\s+(?:(\d+)-\d+|\*)\/(\d+|\*)$/.exec(value.trim());
  if (match === null) return undefined;
  return {
    start: match[1] === undefined ? undefined : Number(match[1]),
    total: match[2] === '*' ? undefined : Number(match[2]),
  };
}

function contentLengthOf(headers: Headers): number | undefined {
  const value = headers.get('content-length');
  return value !== null && /^\d+$/.test(value.trim()) ? Number(value) : undefined;
}

/** Whether two records of what a download is can be the same file; what either lacks does not count. */
function sameFile(recorded: PartialIdentity, current: PartialIdentity): boolean {
  if (recorded.sha256 !== undefined && current.sha256 !== undefined) {
    return recorded.sha256 === current.sha256;
  }
  if (recorded.size !== undefined && current.size !== undefined && recorded.size !== current.size) return false;
  return recorded.etag === undefined || current.etag === undefined || recorded.etag === current.etag;
}

function checksumError(job: DownloadJob, expected: string, actual: string, why: string): DownloadError {
  const url = redactUrl(job.url);
  return new DownloadError('ERR_CHECKSUM', `sha256 mismatch for ${url}: expected ${expected}, ${why} ${actual}.`, {
    url,
  });
}

/**
 * Sends one request for the rest of the file and appends the body, repeating
 * the request (without counting a failed try) when the server starts over
 * from zero or has a different file than the bytes so far.
 *
 * @returns What the complete file is, as the servers said.
 * @throws TransientFailure for a broken connection or a retryable status;
 *   DownloadError for other answers.
 */
async function fetchRest(
  job: DownloadJob,
  partial: PartialDownload,
  transfer: Transfer,
  reportProgress: () => void,
): Promise<PartialIdentity> {
  for (let restarts = 0; ; restarts++) {
    if (restarts > MAX_RESTARTS_PER_TRY) {
      const url = redactUrl(job.url);
      throw new DownloadError('ERR_DOWNLOAD', `Downloading ${url} failed: the server's answers to resuming do not add up.`, { url });
    }
    const offset = transfer.bytes;
    const headers: Record<string, string> = { 'Accept-Encoding': 'identity' };
    if (offset > 0) headers.Range = `bytes=${offset}-`;
    const answer = await getFollowingRedirects({ url: job.url, credentials: job.credentials, headers, signal: job.signal });
    const { response } = answer;
    const range = parseContentRange(response.headers.get('content-range'));

    if (response.status === 416 && offset > 0) {
      await response.body?.cancel();
      const recorded = await partial.readIdentity();
      // Asking past the end means the bytes were complete already (a call
      // stopped between the last byte and the rename), if the sizes agree.
      if (range?.total === offset && sameFile(recorded, identityOf(job, answer, offset))) {
        transfer.resumed = true;
        return { ...recorded, ...identityOf(job, answer, offset) };
      }
      await transfer.restart();
      continue;
    }
    if (!response.ok) {
      await response.body?.cancel();
      const error = answerError(job.url, answer, job.isHub);
      throw isRetryableStatus(response.status) ? new TransientFailure(error) : error;
    }
    if (response.status !== 200 && response.status !== 206) {
      await response.body?.cancel();
      const url = redactUrl(job.url);
      throw new DownloadError('ERR_DOWNLOAD', `Downloading ${url} failed: unexpected answer ${response.status}.`, {
        url,
        status: response.status,
      });
    }

    let total: number | undefined;
    if (response.status === 206) {
      if (offset === 0 || range?.start !== offset) {
        await response.body?.cancel();
        await transfer.restart();
        continue;
      }
      total = range.total;
    } else {
      // A 200 to a Range request: the server ignored it and sends everything.
      if (offset > 0) await transfer.restart();
      total = contentLengthOf(response.headers);
    }
    const identity = identityOf(job, answer, total);
    if (job.expectedSha256 !== undefined && answer.linkedSha256 !== undefined && job.expectedSha256 !== answer.linkedSha256) {
      await response.body?.cancel();
      throw checksumError(job, job.expectedSha256, answer.linkedSha256, 'but the hub publishes');
    }
    if (transfer.bytes > 0) {
      if (!sameFile(await partial.readIdentity(), identity)) {
        // The file changed since the bytes so far were received.
        await response.body?.cancel();
        await transfer.restart();
        continue;
      }
      transfer.resumed = true;
    } else {
      await partial.writeIdentity(identity);
    }
    await appendBody(job, response, transfer, identity.size, reportProgress);
    return identity;
  }
}

/** What a download is, from the job and the servers' answer; `size` is the whole file's. */
function identityOf(job: DownloadJob, answer: HttpAnswer, size: number | undefined): PartialIdentity {
  const sha256 = job.expectedSha256 ?? answer.linkedSha256;
  const etag = strongEtagOf(answer.response.headers);
  const wholeSize = answer.linkedSize ?? size;
  return {
    ...(sha256 === undefined ? {} : { sha256 }),
    ...(wholeSize === undefined ? {} : { size: wholeSize }),
    ...(etag === undefined ? {} : { etag }),
  };
}

/** Appends a response body to the transfer, reporting progress; a body that ends short is a broken connection. */
async function appendBody(
  job: DownloadJob,
  response: Response,
  transfer: Transfer,
  total: number | undefined,
  reportProgress: () => void,
): Promise<void> {
  const body = response.body;
  if (body === null) throw new TransientFailure(networkError(job.url, new Error('the answer has no body')));
  const chunks = body[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      let next: IteratorResult<Uint8Array>;
      try {
        next = await chunks.next();
      } catch (error) {
        if (job.signal.aborted) throw error;
        throw new TransientFailure(networkError(job.url, error));
      }
      if (next.done === true) break;
      await transfer.append(next.value);
      if (transfer.bytes > transfer.mostBytes) {
        transfer.mostBytes = transfer.bytes;
        reportProgress();
      }
      job.onBytes(transfer.bytes, total);
    }
    finished = true;
  } finally {
    if (!finished) await chunks.return?.().catch(() => undefined);
  }
  if (total === undefined || transfer.bytes === total) return;
  const url = redactUrl(job.url);
  if (transfer.bytes < total) {
    throw new TransientFailure(
      networkError(job.url, new Error(`the connection ended after ${transfer.bytes} of ${total} bytes`)),
    );
  }
  await transfer.restart();
  throw new DownloadError('ERR_DOWNLOAD', `Downloading ${url} failed: the server sent more than the ${total} bytes it announced.`, { url });
}

/**
 * Renames the checked bytes into place. Where the rename cannot replace a
 * file (another process's copy, open on Windows), an existing file of the
 * same size is the same download and is kept.
 */
async function moveIntoPlace(dataPath: string, finalPath: string, size: number): Promise<void> {
  try {
    await rename(dataPath, finalPath);
  } catch (error) {
    if ((await statIfExists(finalPath))?.size !== size) throw error;
  }
}

/**
 * Downloads `job.url` to `job.finalPath`, resuming an abandoned partial
 * download of it if there is one, and writes the record that marks the file
 * complete.
 *
 * @throws AmuletError `ERR_ABORTED` when the signal fires (the bytes so far
 *   are kept for a later call); DownloadError `ERR_CHECKSUM` when the file's
 *   sha256 is wrong (it is deleted), `ERR_DOWNLOAD_AUTH`, `ERR_MODEL_NOT_FOUND`
 *   or `ERR_DOWNLOAD` when the server refuses or the network fails.
 */
export async function downloadToCache(job: DownloadJob): Promise<void> {
  const url = redactUrl(job.url);
  // A stale record must not vouch for the file about to be replaced.
  await rm(`${job.finalPath}.meta.json`, { force: true });
  const partial = await claimPartialDownload(job.finalPath);
  let transfer: Transfer | undefined;
  let done = false;
  try {
    transfer = await Transfer.open(partial);
    const opened = transfer;
    for (let pass = 0; ; pass++) {
      const identity = await withRetries(url, job.signal, (reportProgress) => fetchRest(job, partial, opened, reportProgress));
      const actual = opened.digest();
      if (identity.sha256 === undefined || actual === identity.sha256) {
        await opened.flushAndClose();
        transfer = undefined;
        await moveIntoPlace(partial.dataPath, job.finalPath, opened.bytes);
        await writeRecord(job.finalPath, { source: url, size: opened.bytes, sha256: actual, downloadedAt: new Date().toISOString() });
        done = true;
        return;
      }
      // Resumed bytes may belong to an older version of the file; one fresh
      // start tells that apart from a server whose file is really wrong.
      if (opened.resumed && pass === 0) {
        await opened.restart();
        continue;
      }
      done = true;
      throw checksumError(job, identity.sha256, actual, 'but the downloaded file has');
    }
  } finally {
    await transfer?.close().catch(() => undefined);
    // Bytes are kept for a later call to resume; an empty or finished
    // partial download, or one that failed its checksum, is removed.
    if (done || (transfer?.bytes ?? 0) === 0) await partial.discard();
    else partial.release();
  }
}
