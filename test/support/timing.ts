/** Marks a promise that did not settle in time (see {@link within}). */
export const TIMED_OUT = Symbol('timed out');

/** Resolves with `fallback` if `promise` has not settled within `ms`: a hang becomes a failed assertion, not a stuck run. */
export function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<F>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
