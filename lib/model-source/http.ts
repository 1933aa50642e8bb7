/**
 * HTTP requests for model downloads: redirects followed by hand, so that the
 * Hugging Face token is sent only to the hub's own origin and never to the
 * CDN it redirects to, and HTTP answers turned into typed errors.
 *
 * @packageDocumentation
 */

import { DownloadError } from './download-error';
import { isAllowedDownloadUrl } from './reference';
import { TransientFailure } from './retry';

/** A bearer token and the one origin (scheme, host and port) it may be sent to. */
export interface Credentials {
  /** `URL.origin` of the server that gets the token. */
  readonly origin: string;
  /** The token, sent as `Authorization: Bearer <token>`. */
  readonly token: string;
}

/** A GET request to make, following redirects. */
export interface HttpRequest {
  /** Where to start. */
  readonly url: URL;
  /** The token and where it may go; undefined sends none. */
  readonly credentials: Credentials | undefined;
  /** Extra request headers, sent to every hop. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Cancels the request and its body. */
  readonly signal: AbortSignal;
}

/** The answer at the end of the redirects, with what the hub said on the way. */
export interface HttpAnswer {
  /** The final response; its body is not read yet. */
  readonly response: Response;
  /** The URL that gave {@link HttpAnswer.response}. */
  readonly url: URL;
  /** Whether the token was sent to {@link HttpAnswer.url}. */
  readonly sentToken: boolean;
  /** The sha256 the hub published for an LFS file (`X-Linked-Etag`), lowercase hex. */
  readonly linkedSha256: string | undefined;
  /** The size the hub published for an LFS file (`X-Linked-Size`). */
  readonly linkedSize: number | undefined;
}

/** Redirects followed before giving up; the hub needs one or two. */
const MAX_REDIRECTS = 10;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Statuses worth asking again after a pause: timeouts, rate limits and server trouble. */
const RETRYABLE_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

/** The identification sent with every request, so hub operators can tell this client apart. */
const USER_AGENT = 'amulet-llm';

/**
 * A URL as it may appear in a message: without user name and password, and,
 * for a URL a server redirected to (`signed`), without the query, which holds
 * a signature.
 */
export function redactUrl(url: URL, signed = false): string {
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  if (signed) {
    copy.search = '';
    copy.hash = '';
  }
  return copy.href;
}

/** An `ETag` value without quotes or the weak marker. */
function unquoteEtag(value: string): string {
  return value.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

/** The sha256 in an `X-Linked-Etag` header; git blob ids (40 hex digits) and other values give undefined. */
function linkedSha256Of(headers: Headers): string | undefined {
  const value = headers.get('x-linked-etag');
  if (value === null) return undefined;
  const etag = unquoteEtag(value).toLowerCase();
  return /^[0-9a-f]{64}$/.test(etag) ? etag : undefined;
}

function linkedSizeOf(headers: Headers): number | undefined {
  const value = headers.get('x-linked-size');
  return value !== null && /^\d+$/.test(value.trim()) ? Number(value) : undefined;
}

/** A strong `ETag`, which identifies one exact content; weak ones and none give undefined. */
export function strongEtagOf(headers: Headers): string | undefined {
  const value = headers.get('etag');
  if (value === null || value.trim().startsWith('W/')) return undefined;
  return unquoteEtag(value);
}

/** What a network failure was, in a few words, from undici's error and its cause. */
function describeNetworkFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code === undefined ? cause.message : `${code} (${cause.message})`;
  }
  return error.message;
}

/** The error for a server that could not be reached, or a connection that broke. */
export function networkError(requested: URL, error: unknown): DownloadError {
  const url = redactUrl(requested);
  return new DownloadError('ERR_DOWNLOAD', `Downloading ${url} failed: ${describeNetworkFailure(error)}.`, {
    url,
    cause: error,
  });
}

/** Whether a failed answer may succeed when asked again. */
export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUSES.has(status);
}

/**
 * The typed error for an answer that is not a success: 401/403 become
 * `ERR_DOWNLOAD_AUTH`, 404 and 410 `ERR_MODEL_NOT_FOUND`, the rest
 * `ERR_DOWNLOAD`. The message names the requested URL (and the redirect
 * target, if that failed), the status, and the hub's own explanation;
 * `action` is the message's first word.
 */
export function answerError(requested: URL, answer: HttpAnswer, isHub: boolean, action = 'Downloading'): DownloadError {
  const { response } = answer;
  const url = redactUrl(requested);
  const where = answer.url.href === requested.href ? '' : ` (at ${redactUrl(answer.url, true)}, after a redirect)`;
  const hubMessage = response.headers.get('x-error-message')?.trim().replace(/\.+$/, '');
  const explained = hubMessage === undefined || hubMessage === '' ? '' : `: ${hubMessage}`;
  const status = `${response.status}${response.statusText === '' ? '' : ` ${response.statusText}`}`;
  const said = `${action} ${url} failed: the server answered ${status}${where}${explained}`;
  if (response.status === 401 || response.status === 403) {
    let hint: string;
    if (!isHub) hint = 'The server wants credentials; amulet-llm sends a token only to the Hugging Face endpoint.';
    else if (answer.sentToken) {
      hint =
        'The token was refused: check that it is valid and may read this repository ' +
        '(for a gated model, accept its terms on its page).';
    } else {
      hint =
        'The repository may be private or gated, or may not exist: set HF_TOKEN (or pass options.token) ' +
        'to a Hugging Face access token that can read it.';
    }
    return new DownloadError('ERR_DOWNLOAD_AUTH', `${said}. ${hint}`, { url, status: response.status });
  }
  if (response.status === 404 || response.status === 410) {
    return new DownloadError('ERR_MODEL_NOT_FOUND', `${said}. Check the owner, repository, revision and file name.`, {
      url,
      status: response.status,
    });
  }
  return new DownloadError('ERR_DOWNLOAD', `${said}.`, { url, status: response.status });
}

/**
 * Sends a GET request and follows redirects by hand. The token goes only to
 * hops on the credentials' origin, so a redirect to a CDN (or anywhere else)
 * never carries it; every hop must be https, or http on a loopback host.
 *
 * @throws TransientFailure wrapping an `ERR_DOWNLOAD` error when a server
 *   cannot be reached; DownloadError `ERR_DOWNLOAD` for an insecure redirect
 *   or too many redirects; the signal's abort error when aborted.
 */
export async function getFollowingRedirects(request: HttpRequest): Promise<HttpAnswer> {
  let url = request.url;
  let linkedSha256: string | undefined;
  let linkedSize: number | undefined;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    if (!isAllowedDownloadUrl(url)) {
      const shown = redactUrl(request.url);
      throw new DownloadError(
        'ERR_DOWNLOAD',
        `Downloading ${shown} failed: it redirected to ${redactUrl(url, true)}, which is neither https nor on a loopback host.`,
        { url: shown },
      );
    }
    const sentToken = request.credentials !== undefined && url.origin === request.credentials.origin;
    const headers: Record<string, string> = { 'User-Agent': USER_AGENT, ...request.headers };
    if (sentToken) headers.Authorization = `Bearer ${request.credentials!.token}`;
    let response: Response;
    try {
      response = await fetch(url, { headers, redirect: 'manual', signal: request.signal });
    } catch (error) {
      if (request.signal.aborted) throw error;
      throw new TransientFailure(networkError(request.url, error));
    }
    // The hub puts the LFS digest and size on its own answer (the redirect),
    // not on the CDN's; a later hop that repeats them wins.
    linkedSha256 = linkedSha256Of(response.headers) ?? linkedSha256;
    linkedSize = linkedSizeOf(response.headers) ?? linkedSize;
    const location = response.headers.get('location');
    if (!REDIRECT_STATUSES.has(response.status) || location === null) {
      return { response, url, sentToken, linkedSha256, linkedSize };
    }
    await response.body?.cancel();
    url = new URL(location, url);
  }
  const shown = redactUrl(request.url);
  throw new DownloadError('ERR_DOWNLOAD', `Downloading ${shown} failed: more than ${MAX_REDIRECTS} redirects.`, {
    url: shown,
  });
}
