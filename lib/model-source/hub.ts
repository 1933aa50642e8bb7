/**
 * The Hugging Face Hub: its endpoint and token, the URL of a file in a
 * repository, and the pick of a repository's GGUF for a quantisation tag
 * from the repository's file list (as llama.cpp's `-hf <owner>/<repo>:<quant>`
 * does).
 *
 * @packageDocumentation
 */

import { AmuletError } from '../errors';
import { environmentValue } from '../cache-files';
import { answerError, getFollowingRedirects, isRetryableStatus, redactUrl, type Credentials } from './http';
import type { HubFileLocation } from './cache';
import { DownloadError } from './download-error';
import { formatHubReference, isAllowedDownloadUrl, type HubQuantReference } from './reference';
import { TransientFailure, withRetries } from './retry';

/** The hub used when neither `options.endpoint` nor `HF_ENDPOINT` names another. */
export const defaultHubEndpoint = 'https://huggingface.co';

/** A file in a repository's file list. */
export interface HubRepoFile {
  /** Path inside the repository. */
  readonly path: string;
  /** Size in bytes. */
  readonly size: number;
  /** sha256 of an LFS file, lowercase hex; git-stored files have none. */
  readonly sha256: string | undefined;
}

/** Quantisations tried, in order, when a reference names none: llama.cpp's defaults. */
const DEFAULT_QUANTS = ['Q4_K_M', 'Q8_0'];

/** GGUF files in model repositories that are not models (projectors, importance matrices, draft heads). */
const NOT_A_MODEL_PATTERN = /mmproj|imatrix|mtp-|eagle3-|dflash-|dspark-/i;

/** The part numbers in a split GGUF's name: `<name>-00001-of-00003.gguf`. */
export const SPLIT_PART_PATTERN = /-(\d{5})-of-(\d{5})\.gguf$/i;

/**
 * The hub's base URL: the option, else `HF_ENDPOINT`, else
 * {@link defaultHubEndpoint}; it may have a path (a mirror under a folder).
 *
 * @throws AmuletError `ERR_INVALID_OPTION` unless it is an https URL (or http on a loopback host).
 */
export function hubEndpoint(option: string | undefined): URL {
  const text = option ?? environmentValue('HF_ENDPOINT') ?? defaultHubEndpoint;
  const source = option === undefined ? 'HF_ENDPOINT' : 'options.endpoint';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new AmuletError('ERR_INVALID_OPTION', `${source} must be a URL (got ${JSON.stringify(text)}).`);
  }
  if (!isAllowedDownloadUrl(url)) {
    throw new AmuletError(
      'ERR_INVALID_OPTION',
      `${source} must be an https:// URL, or http:// on a loopback host (got ${JSON.stringify(redactUrl(url))}).`,
    );
  }
  url.pathname = url.pathname.replace(/\/+$/, '');
  url.search = '';
  url.hash = '';
  return url;
}

/** The hub token and where it may go: the option, else `HF_TOKEN`; none when both are unset or blank. */
export function hubCredentials(endpoint: URL, option: string | undefined): Credentials | undefined {
  const token = (option ?? environmentValue('HF_TOKEN'))?.trim();
  return token === undefined || token === '' ? undefined : { origin: endpoint.origin, token };
}

/** A URL under the endpoint, from path segments that are percent-encoded here. */
function endpointUrl(endpoint: URL, segments: readonly string[]): URL {
  const url = new URL(endpoint.href);
  url.pathname = `${endpoint.pathname.replace(/\/+$/, '')}/${segments.map(encodeURIComponent).join('/')}`;
  return url;
}

/** The download URL of a file: `<endpoint>/<owner>/<repo>/resolve/<revision>/<path>`. */
export function hubFileUrl(endpoint: URL, location: HubFileLocation): URL {
  return endpointUrl(endpoint, [location.owner, location.repo, 'resolve', location.revision, ...location.file.split('/')]);
}

/** The `rel="next"` URL of a `Link` header, with which the hub pages long lists. */
function nextPageUrl(link: string | null, current: URL): URL | undefined {
  const match = link === null ? null : /<([^>]+)>\s*;\s*rel="?next"?/.exec(link);
  return match === null ? undefined : new URL(match[1]!, current);
}

/** The files in one page of the hub's tree listing; folders and malformed entries are skipped. */
function filesOfPage(page: unknown, url: URL): HubRepoFile[] {
  if (!Array.isArray(page)) {
    const shown = redactUrl(url);
    throw new DownloadError('ERR_DOWNLOAD', `Listing ${shown} failed: the answer is not a file list.`, { url: shown });
  }
  const files: HubRepoFile[] = [];
  for (const entry of page as unknown[]) {
    if (entry === null || typeof entry !== 'object') continue;
    const { type, path, size, lfs } = entry as Record<string, unknown>;
    if (type !== 'file' || typeof path !== 'string' || typeof size !== 'number') continue;
    const oid = lfs !== null && typeof lfs === 'object' ? (lfs as Record<string, unknown>).oid : undefined;
    const sha256 = typeof oid === 'string' && /^[0-9a-f]{64}$/i.test(oid) ? oid.toLowerCase() : undefined;
    files.push({ path, size, sha256 });
  }
  return files;
}

/**
 * Lists every file of a repository at a revision, with the hub's
 * `/api/models/<owner>/<repo>/tree/<revision>?recursive=true`.
 *
 * @throws DownloadError as for a download (`ERR_DOWNLOAD_AUTH` for a private
 *   repository without a token, `ERR_MODEL_NOT_FOUND` for a missing one);
 *   AmuletError `ERR_ABORTED` when the signal fires.
 */
export async function listRepoFiles(
  endpoint: URL,
  repository: Omit<HubFileLocation, 'file'>,
  credentials: Credentials | undefined,
  signal: AbortSignal,
): Promise<HubRepoFile[]> {
  let url: URL | undefined = endpointUrl(endpoint, ['api', 'models', repository.owner, repository.repo, 'tree', repository.revision]);
  url.search = '?recursive=true';
  const files: HubRepoFile[] = [];
  while (url !== undefined) {
    const pageUrl: URL = url;
    const { page, next } = await withRetries(redactUrl(pageUrl), signal, async () => {
      const answer = await getFollowingRedirects({ url: pageUrl, credentials, headers: { Accept: 'application/json' }, signal });
      if (!answer.response.ok) {
        await answer.response.body?.cancel();
        const error = answerError(pageUrl, answer, true, 'Listing');
        throw isRetryableStatus(answer.response.status) ? new TransientFailure(error) : error;
      }
      let body: unknown;
      try {
        body = await answer.response.json();
      } catch (error) {
        if (signal.aborted) throw error;
        const shown = redactUrl(pageUrl);
        throw new DownloadError('ERR_DOWNLOAD', `Listing ${shown} failed: the answer is not JSON.`, { url: shown, cause: error });
      }
      return { page: body, next: nextPageUrl(answer.response.headers.get('link'), answer.url) };
    });
    files.push(...filesOfPage(page, pageUrl));
    url = next;
  }
  return files;
}

/** Whether a listed file is a model's GGUF, and the first part if it is split. */
function isModelFile(path: string): boolean {
  const name = path.slice(path.lastIndexOf('/') + 1);
  if (!/\.gguf$/i.test(name) || NOT_A_MODEL_PATTERN.test(name)) return false;
  const split = SPLIT_PART_PATTERN.exec(name);
  return split === null || Number(split[1]) === 1;
}

/** Matches `quant` as a whole tag in a path: `Q4_K` finds `x.Q4_K.gguf` but not `x-Q4_K_M.gguf`. */
function quantPattern(quant: string): RegExp {
  const escaped = quant.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?<![A-Za-z0-9_])${escaped}(?![A-Za-z0-9_])`, 'i');
}

/**
 * The repository file a quantisation reference means: the first model GGUF
 * (in the hub's order) whose path holds the tag; without a tag, the first
 * with Q4_K_M, else Q8_0, else the first model GGUF. Projector and other
 * non-model GGUFs are skipped, and of a split GGUF only the first part counts.
 *
 * @throws AmuletError `ERR_MODEL_NOT_FOUND` naming the GGUFs there are, when none fits.
 */
export function pickQuantFile(files: readonly HubRepoFile[], reference: HubQuantReference): HubRepoFile {
  const models = files.filter((file) => isModelFile(file.path));
  for (const quant of reference.quant === undefined ? DEFAULT_QUANTS : [reference.quant]) {
    const pattern = quantPattern(quant);
    const found = models.find((file) => pattern.test(file.path));
    if (found !== undefined) return found;
  }
  if (reference.quant === undefined && models[0] !== undefined) return models[0];
  const ggufs = files.filter((file) => /\.gguf$/i.test(file.path)).map((file) => file.path);
  const shown = ggufs.slice(0, 20).join(', ') + (ggufs.length > 20 ? `, and ${ggufs.length - 20} more` : '');
  const target = reference.quant === undefined ? 'no model GGUF' : `no model GGUF for the quantisation ${reference.quant}`;
  throw new AmuletError(
    'ERR_MODEL_NOT_FOUND',
    `${formatHubReference(reference)}: the repository has ${target}. ` +
      (ggufs.length === 0 ? 'It has no .gguf files at all.' : `Its .gguf files: ${shown}.`) +
      ` Name one as hf:${reference.owner}/${reference.repo}/<path/in/repo.gguf>.`,
  );
}
