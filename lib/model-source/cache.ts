/**
 * Where downloaded models live in the cache folder, and the record beside
 * each complete file that lets a later call use it without the network.
 *
 * Layout, under the cache folder:
 * - `hf/<owner>/<repo>/<revision>/<path/in/repo.gguf>`: Hugging Face files
 *   (the revision percent-encoded, so `refs/pr/1` is one folder);
 * - `hf/<owner>/<repo>/<revision>/.quant-<QUANT>.json`: which file a
 *   `hf:<owner>/<repo>:<quant>` reference was resolved to;
 * - `url/<host>/<hash of the URL>/<file name>`: files from plain URLs;
 * - next to each file, `<file>.meta.json` once it is complete and checked,
 *   and `<file>.<pid>-<thread>-<tag>.partial/` while it downloads.
 *
 * @packageDocumentation
 */

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { defaultModelCacheDir, sha256OfFile, statIfExists, writeFileAtomic } from '../cache-files';
import type { HubQuantReference } from './reference';

/** The record written beside a complete, checked file. */
export interface CachedFileRecord {
  /** Where the file came from (no credentials). */
  readonly source: string;
  /** Its size in bytes. */
  readonly size: number;
  /** Its sha256, lowercase hex, when the server published one or the caller gave one. */
  readonly sha256?: string;
  /** When it was downloaded, as an ISO 8601 time. */
  readonly downloadedAt: string;
}

/** A Hugging Face file's place: owner, repository, revision and path in the repository. */
export interface HubFileLocation {
  /** The user or organisation that owns the repository. */
  readonly owner: string;
  /** The repository's name. */
  readonly repo: string;
  /** Branch, tag or commit. */
  readonly revision: string;
  /** The file's path inside the repository. */
  readonly file: string;
}

/** The cache folder: the option if given, else {@link defaultModelCacheDir}. */
export function modelCacheDir(option: string | undefined): string {
  return resolve(option ?? defaultModelCacheDir());
}

/** The folder of one revision of one Hugging Face repository. */
function hubRevisionDir(cacheDir: string, location: Omit<HubFileLocation, 'file'>): string {
  return join(cacheDir, 'hf', location.owner, location.repo, encodeURIComponent(location.revision));
}

/** Where a Hugging Face file is cached. */
export function hubFilePath(cacheDir: string, location: HubFileLocation): string {
  return join(hubRevisionDir(cacheDir, location), ...location.file.split('/'));
}

/** Where the file a `hf:<owner>/<repo>:<quant>` reference resolved to is recorded. */
export function hubQuantRecordPath(cacheDir: string, reference: HubQuantReference): string {
  const quant = (reference.quant ?? 'default').toUpperCase();
  return join(hubRevisionDir(cacheDir, reference), `.quant-${quant}.json`);
}

/** A string made safe as one file name on every platform. */
function safeFileName(text: string, fallback: string): string {
  const safe = text.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '');
  return safe === '' ? fallback : safe;
}

/**
 * Where a file from a plain URL is cached: a folder per URL (by hash, so
 * different URLs never clash), holding the file under the URL's last path
 * segment.
 */
export function urlFilePath(cacheDir: string, url: URL): string {
  const lastSegment = url.pathname.split('/').pop() ?? '';
  let name: string;
  try {
    name = decodeURIComponent(lastSegment);
  } catch {
    name = lastSegment;
  }
  const urlHash = createHash('sha256').update(url.href).digest('hex').slice(0, 16);
  return join(cacheDir, 'url', safeFileName(url.host, 'host'), urlHash, safeFileName(name, 'model.gguf'));
}

function recordPathFor(filePath: string): string {
  return `${filePath}.meta.json`;
}

async function readRecord(filePath: string): Promise<CachedFileRecord | undefined> {
  try {
    const parsed: unknown = JSON.parse(await readFile(recordPathFor(filePath), 'utf8'));
    if (parsed === null || typeof parsed !== 'object') return undefined;
    const record = parsed as Record<string, unknown>;
    if (typeof record.size !== 'number' || typeof record.source !== 'string') return undefined;
    return {
      source: record.source,
      size: record.size,
      ...(typeof record.sha256 === 'string' ? { sha256: record.sha256 } : {}),
      downloadedAt: typeof record.downloadedAt === 'string' ? record.downloadedAt : '',
    };
  } catch {
    // A missing or unreadable record only means the file is not known complete.
    return undefined;
  }
}

/** Writes the record that marks `filePath` complete. */
export async function writeRecord(filePath: string, record: CachedFileRecord): Promise<void> {
  await writeFileAtomic(recordPathFor(filePath), `${JSON.stringify(record, null, 2)}\n`);
}

/**
 * Whether `filePath` is a complete download: its record is there and gives
 * its size. With `expectedSha256`, the record must also give that digest; a
 * record without one has the file hashed once, and the digest added.
 */
export async function isCompleteInCache(filePath: string, expectedSha256?: string): Promise<boolean> {
  const record = await readRecord(filePath);
  if (record === undefined) return false;
  const current = await statIfExists(filePath);
  if (current === undefined || current.size !== record.size) return false;
  if (expectedSha256 === undefined || record.sha256 === expectedSha256) return true;
  if (record.sha256 !== undefined) return false;
  if ((await sha256OfFile(filePath)) !== expectedSha256) return false;
  await writeRecord(filePath, { ...record, sha256: expectedSha256 });
  return true;
}
