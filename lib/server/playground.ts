/**
 * The playground's routes: the web page at `/` and its files under
 * `/playground/` (built into dist/playground/ by `npm run build`), and the
 * two small JSON endpoints the page reads besides the OpenAI API: the
 * server's defaults, and the guidance scale a configuration amounts to.
 *
 * @packageDocumentation
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { nativeBinding } from '../addon';
import type { NativeRealign } from '../addon-types';
import { parseNumberText, requirement, rules } from '../option-rules';
import { resolveRealign, type RealignOptions } from '../options';
import { packageRoot } from '../package-root';
import { ApiError, invalidField } from './api-error';
import type { ChatDefaults } from './chat-completion';
import { sendJson } from './json-response';

/** A route as the server dispatches it (the shape of its own routes). */
export interface PlaygroundRoute {
  methods: readonly string[];
  /** Whether the API key (when set) is required: the page itself is not secret, what it reads from the server is. */
  authenticated: boolean;
  handle: (request: IncomingMessage, response: ServerResponse) => Promise<void>;
}

/** What the page learns of the server: its model, realignment defaults, default preferences and slots. */
export interface PlaygroundSettings extends Omit<NativeRealign, 'klBudget'> {
  model: string;
  /** The preferences requests without `preferences` get. */
  preferences: { text: string; weight: number }[];
  /** Requests decoded at once: the compare view's three answers stream together from 3 on. */
  slots: number;
}

const contentTypes: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The page runs only its own scripts and talks only to this server: even an
 * answer that slipped HTML past the Markdown renderer could neither run
 * script nor load anything from elsewhere.
 */
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** A file name of the built page: no folders but vendor/, no dot files, so no path leaves the folder. */
const assetName = /^(?:vendor\/)?[a-z0-9][a-z0-9.-]*$/;

/** The realignment fields the guidance scale depends on, read from the query. */
const scaleFields = ['method', 'alpha', 'lambda', 'eta', 'iterations', 'ratio'] as const;

async function sendAsset(response: ServerResponse, name: string): Promise<void> {
  const folder = path.join(packageRoot(), 'dist', 'playground');
  let body: Buffer;
  try {
    body = await readFile(path.join(folder, name));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    if (name === 'index.html') {
      throw new ApiError(404, 'the playground is not built: run `npm run build` in amulet-llm', { code: 'not_found' });
    }
    throw new ApiError(404, `no playground file ${name}`, { type: 'not_found_error', code: 'not_found' });
  }
  response.writeHead(200, {
    'Content-Type': contentTypes[path.extname(name)] ?? 'application/octet-stream',
    'Content-Length': String(body.length),
    'Content-Security-Policy': contentSecurityPolicy,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-cache',
  });
  response.end(body);
}

function settingsOf(defaults: ChatDefaults, slots: number): PlaygroundSettings {
  const { method, alpha, lambda, eta, iterations, ratio, plausibility, echoGuard } = defaults.realign;
  return {
    model: defaults.modelName, method, alpha, lambda, eta, iterations, ratio, plausibility, echoGuard,
    preferences: defaults.preferences.map(({ text, weight }) => ({ text, weight })), slots,
  };
}

/**
 * `?method=&alpha=&…`: the guidance scale s of those settings (the server's
 * defaults for the rest). A value out of bounds is a 400 naming its field; a
 * combination whose scale is not finite is the library's ERR_INVALID_OPTION,
 * a 400 too.
 */
function guidanceScaleOf(query: URLSearchParams, defaults: ChatDefaults): { guidance_scale: number } {
  const options: Record<string, unknown> = {};
  for (const field of scaleFields) {
    const text = query.get(field);
    if (text === null) continue;
    const rule = rules[field];
    const value = rule.kind === 'choice' ? ((rule.values as readonly string[]).includes(text) ? text : undefined) : parseNumberText(rule, text);
    if (value === undefined) throw invalidField(field, `${field} must be ${requirement(rule)} (got ${JSON.stringify(text)})`);
    options[field] = value;
  }
  return { guidance_scale: nativeBinding().guidanceScale(resolveRealign(options as RealignOptions, defaults.realign)) };
}

/**
 * The route of a playground path (without the query), or undefined for any other path.
 *
 * @param slots the server's slot count, read when the page asks.
 */
export function playgroundRoute(pathname: string, defaults: ChatDefaults, slots: () => number): PlaygroundRoute | undefined {
  const read = ['GET', 'HEAD'];
  if (pathname === '/') {
    return { methods: read, authenticated: false, handle: (_, response) => sendAsset(response, 'index.html') };
  }
  if (pathname === '/playground/api/settings') {
    return { methods: ['GET'], authenticated: true, handle: async (_, response) =>
      sendJson(response, 200, settingsOf(defaults, slots())) };
  }
  if (pathname === '/playground/api/guidance-scale') {
    return { methods: ['GET'], authenticated: true, handle: async (request, response) =>
      sendJson(response, 200, guidanceScaleOf(new URL(request.url ?? '', 'http://localhost').searchParams, defaults)) };
  }
  const asset = /^\/playground\/(.+)$/.exec(pathname);
  if (asset && assetName.test(asset[1]!)) {
    return { methods: read, authenticated: false, handle: (_, response) => sendAsset(response, asset[1]!) };
  }
  return undefined;
}
