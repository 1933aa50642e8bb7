/**
 * Reading a request's JSON body, never more than a set number of bytes.
 *
 * @packageDocumentation
 */
import type { IncomingMessage } from 'node:http';
import { ApiError } from './api-error';

/** The 413 for a body over `limit` bytes. */
export function bodyTooLarge(limit: number): ApiError {
  return new ApiError(413, `the request body is larger than ${limit} bytes`, { code: 'request_too_large' });
}

/** Whether the declared Content-Length already exceeds `limit`. */
export function declaresTooLarge(request: IncomingMessage, limit: number): boolean {
  const length = Number(request.headers['content-length']);
  return Number.isFinite(length) && length > limit;
}

/**
 * The body parsed as JSON. Stops reading as soon as it passes `limit` bytes
 * (413); a body that is not JSON is a 400.
 */
export async function readJsonBody(request: IncomingMessage, limit: number): Promise<unknown> {
  if (declaresTooLarge(request, limit)) throw bodyTooLarge(limit);
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of request as AsyncIterable<Buffer>) {
    size += part.length;
    if (size > limit) throw bodyTooLarge(limit);
    parts.push(part);
  }
  const text = Buffer.concat(parts).toString('utf8');
  if (text.trim() === '') throw new ApiError(400, 'the request has no body; send a JSON object', { code: 'invalid_json' });
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ApiError(400, `the body is not valid JSON: ${(error as Error).message}`, { code: 'invalid_json' });
  }
}
