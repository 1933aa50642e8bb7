/**
 * The API key check: the key a request sends (`Authorization: Bearer <key>`)
 * against the server's, in constant time.
 *
 * @packageDocumentation
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Checks requests against one key. Both sides are hashed first, so the
 * comparison takes the same time whatever the length or content of the key
 * sent, and `timingSafeEqual` always compares buffers of equal length.
 */
export class ApiKeyCheck {
  readonly #expected: Buffer;

  constructor(key: string) {
    this.#expected = digest(key);
  }

  /** Whether the request's headers carry the key. */
  accepts(headers: IncomingHttpHeaders): boolean {
    const match = /^Bearer\s+(.*)$/i.exec(headers.authorization ?? '');
    // A request without the header is compared too: its answer must not come sooner.
    const sent = digest(match ? match[1]!.trim() : '');
    return timingSafeEqual(sent, this.#expected) && match !== null;
  }
}
