/**
 * Lexical-diversity proxy of `creative`: the moving-average type–token ratio
 * (MATTR, Covington & McFall 2010): the share of distinct words in every
 * window of 50 consecutive words, averaged. Unlike the plain type–token ratio
 * it does not fall as a text grows, so a long answer is not penalised for its
 * length. Texts shorter than the window use the plain ratio. 0 to 1; higher
 * means less repetition. Case is ignored.
 *
 * @packageDocumentation
 */
import { words } from './words';

/** Words per window. */
export const MATTR_WINDOW = 50;

/** Moving-average type–token ratio over windows of `window` words; 0 without words. */
export function movingAverageTypeTokenRatio(text: string, window = MATTR_WINDOW): number {
  const tokens = words(text).map((word) => word.toLowerCase());
  if (tokens.length === 0) return 0;
  const size = Math.min(window, tokens.length);
  const inWindow = new Map<string, number>();
  const add = (token: string, delta: number): void => {
    const count = (inWindow.get(token) ?? 0) + delta;
    if (count === 0) inWindow.delete(token);
    else inWindow.set(token, count);
  };
  for (let i = 0; i < size; i += 1) add(tokens[i]!, 1);
  let total = inWindow.size / size;
  // Slides the window one word at a time: each step adds one word and drops one.
  for (let i = size; i < tokens.length; i += 1) {
    add(tokens[i]!, 1);
    add(tokens[i - size]!, -1);
    total += inWindow.size / size;
  }
  return total / (tokens.length - size + 1);
}
