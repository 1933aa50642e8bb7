/**
 * Percentile-bootstrap 95 % intervals for the report's means and ratios,
 * resampling the paired items (questions) with replacement. Deterministic: a
 * fixed-seed generator, so a report is reproducible from its records.
 *
 * @packageDocumentation
 */

/** A point estimate with its 95 % interval. */
export interface Interval {
  value: number;
  low: number;
  high: number;
}

const RESAMPLES = 2000;

/** mulberry32: a small, well-mixed 32-bit generator of numbers in [0, 1); plenty for resampling indices. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function percentile(sorted: readonly number[], fraction: number): number {
  const position = fraction * (sorted.length - 1);
  const below = Math.floor(position);
  const above = Math.min(sorted.length - 1, below + 1);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

/**
 * The mean of the groups' means (e.g. a win rate over preferences, each over
 * its questions), resampling within each group. Null when a group is empty
 * or there are none.
 */
export function meanOfGroupMeans(groups: readonly (readonly number[])[]): Interval | null {
  if (groups.length === 0 || groups.some((group) => group.length === 0)) return null;
  const value = mean(groups.map(mean));
  const random = seededRandom(0x5eed);
  const estimates: number[] = [];
  for (let r = 0; r < RESAMPLES; r += 1) {
    let total = 0;
    for (const group of groups) {
      let sum = 0;
      for (let i = 0; i < group.length; i += 1) sum += group[Math.floor(random() * group.length)]!;
      total += sum / group.length;
    }
    estimates.push(total / groups.length);
  }
  estimates.sort((a, b) => a - b);
  return { value, low: percentile(estimates, 0.025), high: percentile(estimates, 0.975) };
}

/** A statistic of `items` with its interval, resampling the items. Null without items. */
export function bootstrap<T>(items: readonly T[], statistic: (sample: readonly T[]) => number): Interval | null {
  if (items.length === 0) return null;
  const random = seededRandom(0x5eed);
  const estimates: number[] = [];
  const sample: T[] = new Array<T>(items.length);
  for (let r = 0; r < RESAMPLES; r += 1) {
    for (let i = 0; i < items.length; i += 1) sample[i] = items[Math.floor(random() * items.length)]!;
    estimates.push(statistic(sample));
  }
  estimates.sort((a, b) => a - b);
  return { value: statistic(items), low: percentile(estimates, 0.025), high: percentile(estimates, 0.975) };
}
