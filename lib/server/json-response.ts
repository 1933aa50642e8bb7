/**
 * Writing a JSON answer, and an {@link ApiError} as one.
 *
 * @packageDocumentation
 */
import type { ServerResponse } from 'node:http';
import type { ApiError } from './api-error';

/** Answers with `body` as JSON. */
export function sendJson(response: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    ...headers, 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)),
  });
  response.end(text);
}

/** Answers with the error, unless the response has started or its client is gone. */
export function sendError(response: ServerResponse, error: ApiError): void {
  if (response.headersSent || response.destroyed) return;
  sendJson(response, error.status, error.body(), { ...error.headers });
}
