import type { ServerResponse } from 'node:http';

/**
 * Resolves once the response can take more data, or is gone; whichever
 * comes first, both listeners go, so a slow client leaves none behind.
 */
export function drained(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.on('drain', done);
    response.on('close', done);
  });
}
