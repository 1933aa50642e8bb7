/**
 * Parsing of model references: a local path, a Hugging Face file
 * (`hf:<owner>/<repo>/<path/in/repo.gguf>[@<revision>]`), a Hugging Face
 * repository and quantisation (`hf:<owner>/<repo>[:<quant>][@<revision>]`),
 * or an https URL.
 *
 * @packageDocumentation
 */

import { fileURLToPath } from 'node:url';
import { AmuletError } from '../errors';

/** The revision a Hugging Face reference means when it names none. */
export const defaultHubRevision = 'main';

/** A model file on disk, named by its path. */
export interface LocalModelReference {
  /** Discriminant. */
  readonly kind: 'local';
  /** The path as given (a `file:` URL is turned into a path). */
  readonly path: string;
}

/** One file in a Hugging Face model repository. */
export interface HubFileReference {
  /** Discriminant. */
  readonly kind: 'hub-file';
  /** The user or organisation that owns the repository. */
  readonly owner: string;
  /** The repository's name. */
  readonly repo: string;
  /** The file's path inside the repository, with `/` between folders; ends with `.gguf`. */
  readonly file: string;
  /** Branch, tag or commit; `main` unless the reference named one. */
  readonly revision: string;
}

/** The GGUF of one quantisation in a Hugging Face repository, found from the repository's file list. */
export interface HubQuantReference {
  /** Discriminant. */
  readonly kind: 'hub-quant';
  /** The user or organisation that owns the repository. */
  readonly owner: string;
  /** The repository's name. */
  readonly repo: string;
  /** The quantisation tag as written (`Q4_K_M`), or undefined for the repository's default pick. */
  readonly quant: string | undefined;
  /** Branch, tag or commit; `main` unless the reference named one. */
  readonly revision: string;
}

/** A file at an https URL (or http on a loopback host). */
export interface UrlModelReference {
  /** Discriminant. */
  readonly kind: 'url';
  /** The URL to download. */
  readonly url: URL;
}

/** What a model reference string names. */
export type ModelReference = LocalModelReference | HubFileReference | HubQuantReference | UrlModelReference;

/** The reference forms, for error messages. */
export const supportedReferenceForms =
  'a local path, hf:<owner>/<repo>/<path/in/repo.gguf>[@<revision>], hf:<owner>/<repo>[:<quant>][@<revision>], ' +
  'or an https:// URL';

/**
 * Hugging Face's rule for user, organisation and repository names: letters,
 * digits, `-`, `_` and `.`, not starting or ending with `-` or `.`, no `--`
 * or `..`, at most 96 characters.
 */
const HUB_NAME_PATTERN = /^(?!.*(?:--|\.\.))[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?$/;

/** A quantisation tag such as `Q4_K_M`, `IQ4_XS`, `BF16` or `UD-Q4_K_XL`. */
const QUANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Characters no file path or revision may hold: controls, and backslashes (which would be folders on Windows). */
const FORBIDDEN_CHARACTERS = /[\u0000-\u001f\u007f\\]/;

/** A scheme followed by `//`, which tells a URL from a path (`C:\models` has a colon but no `//`). */
const URL_SCHEME_PATTERN = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/** Whether a URL's host is this machine, where plain http cannot be intercepted. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(hostname);
}

/**
 * Whether amulet-llm may download from `url`: https anywhere, http only on a
 * loopback host, where nothing between could read a token or change the file.
 */
export function isAllowedDownloadUrl(url: URL): boolean {
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
}

/**
 * Whether `file` is a relative path of a GGUF inside a repository: no empty,
 * `.` or `..` segments, no control characters or backslashes. Only GGUF files
 * are fetched, which also keeps the cache's own side files (`.meta.json`,
 * `.partial`) from ever sharing a name with one.
 */
export function isRepoGgufPath(file: string): boolean {
  const parts = file.split('/');
  return (
    /\.gguf$/i.test(file) &&
    !FORBIDDEN_CHARACTERS.test(file) &&
    !parts.some((part) => part === '' || part === '.' || part === '..')
  );
}

function malformed(reference: string, why: string): AmuletError {
  return new AmuletError(
    'ERR_INVALID_OPTION',
    `Malformed model reference ${JSON.stringify(reference)}: ${why}. A model reference is ${supportedReferenceForms}.`,
  );
}

/**
 * Splits a trailing `@<revision>` off the part after `hf:`. A `@` counts only
 * where what precedes it is a whole reference (a path ending in `.gguf`, or
 * `<owner>/<repo>[:<quant>]`), so file names and revisions may hold `@` and `/`.
 */
function splitRevision(body: string): { target: string; revision: string | undefined } {
  const at = body.lastIndexOf('@');
  if (at < 0) return { target: body, revision: undefined };
  const target = body.slice(0, at);
  const isWholeReference = /\.gguf$/i.test(target) || target.split('/').length === 2;
  return isWholeReference ? { target, revision: body.slice(at + 1) } : { target: body, revision: undefined };
}

function checkRevision(reference: string, revision: string): void {
  if (revision === '') throw malformed(reference, 'the revision after "@" is empty');
  const badPart = revision.split('/').some((part) => part === '.' || part === '..' || part === '');
  if (FORBIDDEN_CHARACTERS.test(revision) || /\s/.test(revision) || badPart) {
    throw malformed(reference, `${JSON.stringify(revision)} is not a branch, tag or commit name`);
  }
}

function parseHubReference(reference: string, body: string): HubFileReference | HubQuantReference {
  const { target, revision = defaultHubRevision } = splitRevision(body);
  checkRevision(reference, revision);
  const [owner = '', repoPart = '', ...fileParts] = target.split('/');
  if (!HUB_NAME_PATTERN.test(owner)) {
    const why = owner === '' ? 'the owner is missing' : `${JSON.stringify(owner)} is not a Hugging Face user or organisation name`;
    throw malformed(reference, why);
  }
  if (fileParts.length === 0) {
    const colon = repoPart.indexOf(':');
    const repo = colon < 0 ? repoPart : repoPart.slice(0, colon);
    const quant = colon < 0 ? undefined : repoPart.slice(colon + 1);
    if (!HUB_NAME_PATTERN.test(repo)) {
      const why = repo === '' ? 'the repository is missing' : `${JSON.stringify(repo)} is not a Hugging Face repository name`;
      throw malformed(reference, why);
    }
    if (quant !== undefined && !QUANT_PATTERN.test(quant)) {
      throw malformed(reference, `${JSON.stringify(quant)} is not a quantisation tag such as Q4_K_M`);
    }
    return { kind: 'hub-quant', owner, repo, quant, revision };
  }
  if (!HUB_NAME_PATTERN.test(repoPart)) {
    throw malformed(reference, `${JSON.stringify(repoPart)} is not a Hugging Face repository name`);
  }
  const file = fileParts.join('/');
  if (!isRepoGgufPath(file)) {
    const why = /\.gguf$/i.test(file) ? 'is not a path inside a repository' : 'is not a .gguf file';
    throw malformed(reference, `${JSON.stringify(file)} ${why}`);
  }
  return { kind: 'hub-file', owner, repo: repoPart, file, revision };
}

function parseUrlReference(reference: string): UrlModelReference | LocalModelReference {
  let url: URL;
  try {
    url = new URL(reference);
  } catch {
    throw malformed(reference, 'it is not a valid URL');
  }
  if (url.protocol === 'file:') return { kind: 'local', path: fileURLToPath(url) };
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw malformed(reference, 'plain http:// is allowed only for loopback hosts (localhost, 127.0.0.1); use https://');
  }
  if (!isAllowedDownloadUrl(url)) throw malformed(reference, `${url.protocol} URLs are not supported`);
  return { kind: 'url', url };
}

/**
 * Tells what a model reference names, without touching the disk or network.
 *
 * @param reference - A local path, `hf:<owner>/<repo>/<path/in/repo.gguf>[@<revision>]`,
 *   `hf:<owner>/<repo>[:<quant>][@<revision>]`, or an `https://` URL
 *   (`http://` only for loopback hosts). A `file:` URL is read as a local path.
 * @returns The parsed reference.
 * @throws AmuletError `ERR_INVALID_OPTION` when the reference is not a string
 *   or is malformed; the message names the supported forms.
 */
export function parseModelReference(reference: string): ModelReference {
  if (typeof reference !== 'string') {
    throw new AmuletError('ERR_INVALID_OPTION', `A model reference must be a string (got ${typeof reference}).`);
  }
  if (reference.trim() === '') throw malformed(reference, 'it is empty');
  if (/^hf:/i.test(reference)) {
    // node-llama-cpp also writes `hf://`; the part after it is the same.
    return parseHubReference(reference, reference.slice(3).replace(/^\/\//, ''));
  }
  if (URL_SCHEME_PATTERN.test(reference)) return parseUrlReference(reference);
  return { kind: 'local', path: reference };
}

/** A reference written back in its canonical form, for messages. */
export function formatHubReference(reference: HubFileReference | HubQuantReference): string {
  const revision = reference.revision === defaultHubRevision ? '' : `@${reference.revision}`;
  const target =
    reference.kind === 'hub-file'
      ? `${reference.owner}/${reference.repo}/${reference.file}`
      : `${reference.owner}/${reference.repo}${reference.quant === undefined ? '' : `:${reference.quant}`}`;
  return `hf:${target}${revision}`;
}
