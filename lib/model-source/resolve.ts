/**
 * {@link resolveModelFile}: from a model reference to a GGUF file on disk,
 * downloading it into the cache when it is not there yet.
 *
 * @packageDocumentation
 */

import { readFile, stat } from 'node:fs/promises';
import { environmentValue, statIfExists, writeFileAtomic } from '../cache-files';
import { AmuletError } from '../errors';
import { rules, type TextRule } from '../option-rules';
import { objectOption, optionValue } from '../options';
import { hubFilePath, hubQuantRecordPath, isCompleteInCache, modelCacheDir, urlFilePath, type HubFileLocation } from './cache';
import { downloadToCache } from './download';
import { DownloadError } from './download-error';
import { redactUrl } from './http';
import { hubCredentials, hubEndpoint, hubFileUrl, listRepoFiles, pickQuantFile, SPLIT_PART_PATTERN, type HubRepoFile } from './hub';
import { ProgressThrottle, type DownloadProgressCallback } from './progress';
import {
  formatHubReference,
  isRepoGgufPath,
  parseModelReference,
  supportedReferenceForms,
  type HubFileReference,
  type HubQuantReference,
  type UrlModelReference,
} from './reference';

/** Options of {@link resolveModelFile}. */
export interface ResolveModelFileOptions {
  /**
   * Folder for downloaded models. Default: `$AMULET_MODELS_DIR`, else
   * `$AMULET_CACHE_DIR/models`, else `~/.cache/amulet-llm/models`.
   */
  readonly cacheDir?: string;
  /**
   * Hugging Face access token, for private and gated repositories. Default:
   * `$HF_TOKEN`. It is sent only to the hub's endpoint, never to the CDN the
   * hub redirects to, nor to other hosts.
   */
  readonly token?: string;
  /**
   * Base URL of the Hugging Face Hub or a mirror. Default: `$HF_ENDPOINT`,
   * else `https://huggingface.co`. It must be https (or http on a loopback host).
   */
  readonly endpoint?: string;
  /**
   * sha256 (hex) the downloaded file must have. The hub's own digest of an
   * LFS file is checked without it; give it for plain URLs, or to pin a file.
   * A cached file is used only if it has this digest.
   */
  readonly sha256?: string;
  /**
   * Use only the cache: a file that is not there fails with
   * `ERR_MODEL_NOT_FOUND` instead of being downloaded. Default: on when
   * `HF_HUB_OFFLINE` is `1`, `true`, `yes` or `on`. (Cached files never need
   * the network, offline or not.)
   */
  readonly offline?: boolean;
  /** Called while downloading, at most about ten times a second, and once at the end. */
  readonly onProgress?: DownloadProgressCallback;
  /**
   * Cancels a download with `ERR_ABORTED`. The bytes received are kept, and
   * the next call for the same file resumes from them.
   */
  readonly signal?: AbortSignal;
}

/** The options, checked and with their defaults. */
interface Settings {
  readonly cacheDir: string;
  readonly token: string | undefined;
  readonly endpoint: string | undefined;
  readonly sha256: string | undefined;
  readonly offline: boolean;
  readonly progress: ProgressThrottle;
  readonly signal: AbortSignal;
}

function invalid(message: string): AmuletError {
  return new AmuletError('ERR_INVALID_OPTION', message);
}

function optionalString(rule: TextRule, value: unknown): string | undefined {
  return value === undefined ? undefined : optionValue(rule, value, '', `options.${rule.name}`);
}

function checkOptions(input: ResolveModelFileOptions): Settings {
  const options = objectOption('options', input);
  const sha256 = optionalString(rules.sha256, options.sha256);
  if (sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(sha256)) {
    throw invalid(`options.sha256 must be 64 hexadecimal digits (got ${JSON.stringify(sha256)}).`);
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw invalid('options.onProgress must be a function.');
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw invalid('options.signal must be an AbortSignal.');
  }
  const offlineFromEnvironment = /^(?:1|true|yes|on)$/i.test(environmentValue('HF_HUB_OFFLINE') ?? '');
  return {
    cacheDir: modelCacheDir(optionalString(rules.cacheDir, options.cacheDir)),
    token: optionalString(rules.token, options.token),
    endpoint: optionalString(rules.endpoint, options.endpoint),
    sha256: sha256?.toLowerCase(),
    offline: optionValue(rules.offline, options.offline, offlineFromEnvironment, 'options.offline'),
    progress: new ProgressThrottle(options.onProgress),
    signal: options.signal ?? new AbortController().signal,
  };
}

/** Checks that a local model file exists and is a file. */
async function checkLocalFile(path: string): Promise<string> {
  let isFile: boolean;
  try {
    isFile = (await stat(path)).isFile();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'there is no such file' : `it cannot be read (${code ?? String(error)})`;
    throw new AmuletError(
      'ERR_MODEL_NOT_FOUND',
      `Model file ${JSON.stringify(path)} not found: ${why}. A model reference is ${supportedReferenceForms}.`,
      { cause: error },
    );
  }
  if (!isFile) throw new AmuletError('ERR_MODEL_NOT_FOUND', `Model file ${JSON.stringify(path)} is a folder, not a file.`);
  return path;
}

function notInCacheOffline(reference: string, path: string): AmuletError {
  return new AmuletError(
    'ERR_MODEL_NOT_FOUND',
    `${reference} is not in the model cache (${path}), and downloads are off (options.offline or HF_HUB_OFFLINE).`,
  );
}

/**
 * The files a hub file brings: itself, or every part of a split GGUF
 * (`<name>-00001-of-00003.gguf` and its siblings), first part first.
 */
function splitParts(file: string): string[] {
  const match = SPLIT_PART_PATTERN.exec(file);
  if (match === null) return [file];
  const count = Number(match[2]);
  const stem = file.slice(0, match.index);
  return Array.from({ length: count }, (_, index) => `${stem}-${String(index + 1).padStart(5, '0')}-of-${match[2]}.gguf`);
}

/** Whether every one of these files is complete in the cache. */
async function allComplete(paths: readonly string[], sha256: string | undefined): Promise<boolean> {
  for (const path of paths) {
    if (!(await isCompleteInCache(path, sha256))) return false;
  }
  return true;
}

/**
 * Downloads the files of one hub reference (one GGUF, or the parts of a
 * split one) that are not complete in the cache, reporting progress over all
 * of them, and returns the first one's path.
 */
async function fetchHubFiles(
  shown: string,
  repository: Omit<HubFileLocation, 'file'>,
  files: readonly string[],
  settings: Settings,
  listed: readonly HubRepoFile[] | undefined,
): Promise<string> {
  const paths = files.map((file) => hubFilePath(settings.cacheDir, { ...repository, file }));
  if (files.length > 1 && settings.sha256 !== undefined) {
    throw invalid(`options.sha256 names one file, but ${shown} is a GGUF split into ${files.length} files.`);
  }
  if (await allComplete(paths, settings.sha256)) return paths[0]!;
  if (settings.offline) throw notInCacheOffline(shown, paths[0]!);

  const endpoint = hubEndpoint(settings.endpoint);
  const credentials = hubCredentials(endpoint, settings.token);
  let known = listed;
  if (known === undefined && files.length > 1) {
    // Only the file list gives the parts' sizes, for a progress fraction over all of them.
    try {
      known = await listRepoFiles(endpoint, repository, credentials, settings.signal);
    } catch (error) {
      if (settings.signal.aborted) throw error;
    }
  }
  const sizes = files.map((file) => known?.find((entry) => entry.path === file)?.size);
  const wholeSize = sizes.every((size) => size !== undefined) ? sizes.reduce<number>((sum, size) => sum + size!, 0) : undefined;

  let doneBytes = 0;
  for (const [index, file] of files.entries()) {
    const finalPath = paths[index]!;
    const listedSha256 = known?.find((entry) => entry.path === file)?.sha256;
    if (settings.sha256 !== undefined && listedSha256 !== undefined && settings.sha256 !== listedSha256) {
      const url = redactUrl(hubFileUrl(endpoint, { ...repository, file }));
      throw new DownloadError(
        'ERR_CHECKSUM',
        `sha256 mismatch for ${url}: options.sha256 is ${settings.sha256}, but the hub lists ${listedSha256}.`,
        { url },
      );
    }
    if (!(await isCompleteInCache(finalPath, settings.sha256))) {
      const before = doneBytes;
      await downloadToCache({
        url: hubFileUrl(endpoint, { ...repository, file }),
        finalPath,
        credentials,
        isHub: true,
        expectedSha256: settings.sha256 ?? listedSha256,
        signal: settings.signal,
        onBytes: (bytes, total) => settings.progress.update(before + bytes, files.length === 1 ? total : wholeSize),
      });
    }
    doneBytes += (await statIfExists(finalPath))?.size ?? 0;
  }
  settings.progress.update(doneBytes, wholeSize ?? doneBytes, true);
  return paths[0]!;
}

async function resolveHubFile(reference: HubFileReference, settings: Settings): Promise<string> {
  return fetchHubFiles(formatHubReference(reference), reference, splitParts(reference.file), settings, undefined);
}

/** Reads which file an earlier call resolved a quantisation reference to. */
async function readQuantRecord(path: string): Promise<string | undefined> {
  try {
    const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
    const file = parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>).file : undefined;
    return typeof file === 'string' && isRepoGgufPath(file) ? file : undefined;
  } catch {
    // No record (or a broken one): the file list decides.
    return undefined;
  }
}

/**
 * Resolves `hf:<owner>/<repo>[:<quant>]`: the file an earlier call picked,
 * if it is complete in the cache; else the pick from the repository's file
 * list, which is then recorded for later (offline) calls.
 */
async function resolveHubQuant(reference: HubQuantReference, settings: Settings): Promise<string> {
  const shown = formatHubReference(reference);
  const recordPath = hubQuantRecordPath(settings.cacheDir, reference);
  const recorded = await readQuantRecord(recordPath);
  if (recorded !== undefined) {
    const paths = splitParts(recorded).map((file) => hubFilePath(settings.cacheDir, { ...reference, file }));
    if (await allComplete(paths, settings.sha256)) return paths[0]!;
  }
  if (settings.offline) throw notInCacheOffline(shown, recordPath);

  const endpoint = hubEndpoint(settings.endpoint);
  const listed = await listRepoFiles(endpoint, reference, hubCredentials(endpoint, settings.token), settings.signal);
  const picked = pickQuantFile(listed, reference);
  const path = await fetchHubFiles(shown, reference, splitParts(picked.path), settings, listed);
  await writeFileAtomic(recordPath, `${JSON.stringify({ reference: shown, file: picked.path })}\n`);
  return path;
}

async function resolveUrl(reference: UrlModelReference, settings: Settings): Promise<string> {
  const finalPath = urlFilePath(settings.cacheDir, reference.url);
  if (await isCompleteInCache(finalPath, settings.sha256)) return finalPath;
  if (settings.offline) throw notInCacheOffline(redactUrl(reference.url), finalPath);
  const endpoint = hubEndpoint(settings.endpoint);
  // A URL on the hub itself (a pasted …/resolve/… link) gets the token too.
  const isHub = reference.url.origin === endpoint.origin;
  await downloadToCache({
    url: reference.url,
    finalPath,
    credentials: isHub ? hubCredentials(endpoint, settings.token) : undefined,
    isHub,
    expectedSha256: settings.sha256,
    signal: settings.signal,
    onBytes: (bytes, total) => settings.progress.update(bytes, total),
  });
  const size = (await statIfExists(finalPath))?.size ?? 0;
  settings.progress.update(size, size, true);
  return finalPath;
}

/**
 * Turns a model reference into a GGUF file on disk, downloading it into the
 * cache folder first when needed, the way `llama-server -hf` and
 * node-llama-cpp's `hf:` URIs do.
 *
 * - A local path is returned as given, once it is known to be a file.
 * - `hf:<owner>/<repo>/<path/in/repo.gguf>[@<revision>]` is fetched from
 *   `<endpoint>/<owner>/<repo>/resolve/<revision>/<path>` (revision `main`
 *   by default) and checked against the sha256 the hub publishes.
 * - `hf:<owner>/<repo>[:<quant>][@<revision>]` picks the repository's GGUF
 *   for that quantisation from its file list (without one: Q4_K_M, else Q8_0,
 *   else the first model GGUF).
 * - `https://…` (or `http://` on a loopback host) is fetched as is.
 *
 * A split GGUF (`…-00001-of-00003.gguf`) brings all its parts, and the first
 * part's path is returned; llama.cpp loads the others from beside it.
 *
 * A file that is complete in the cache is returned without touching the
 * network; a branch such as `main` is therefore not checked for newer
 * commits (name a commit to pin one, or delete the cached file to refresh).
 * Downloads resume after a broken connection, an abort or a killed process,
 * and never leave a partial or unchecked file under the returned path.
 *
 * @param reference - What to load; see above.
 * @param options - Cache folder, token, endpoint, digest, offline mode,
 *   progress callback and abort signal.
 * @returns The path of the model file (for a local path, as given).
 * @throws AmuletError `ERR_INVALID_OPTION` for a malformed reference or
 *   option; `ERR_MODEL_NOT_FOUND` for a missing local file, a 404, no GGUF
 *   for the quantisation, or a file not cached while offline;
 *   `ERR_DOWNLOAD_AUTH` for 401/403 (set `HF_TOKEN`); `ERR_CHECKSUM` when
 *   the sha256 is wrong (the file is deleted); `ERR_DOWNLOAD` for other
 *   network and HTTP failures; `ERR_ABORTED` when the signal fires.
 *   Download failures are {@link DownloadError}s, which give the URL and
 *   the HTTP status.
 */
export async function resolveModelFile(reference: string, options: ResolveModelFileOptions = {}): Promise<string> {
  const settings = checkOptions(options);
  const parsed = parseModelReference(reference);
  switch (parsed.kind) {
    case 'local':
      return checkLocalFile(parsed.path);
    case 'hub-file':
      return resolveHubFile(parsed, settings);
    case 'hub-quant':
      return resolveHubQuant(parsed, settings);
    case 'url':
      return resolveUrl(parsed, settings);
  }
}
