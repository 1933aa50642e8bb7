/**
 * What the token view shows of a token's trace: how strongly to shade it,
 * whether the realignment picked another token than the preference prompt
 * would have, and token texts with their whitespace made visible.
 */

/** One distribution's most likely token, as the server's `amulet.trace` gives it. */
export interface TopToken {
  token: number;
  text: string;
  probability: number;
}

/** One token's trace (the server's `AmuletTokenTrace`). */
export interface TokenTrace {
  token: number;
  base: TopToken;
  preference: TopToken;
  realigned: TopToken;
  kl_divergence: number;
}

/** How the token view marks a piece of text (one or more tokens). */
export interface TraceMark {
  /**
   * 0 (the realignment left the distribution as the base prompt had it)
   * toward 1 (far from it): 1 − e^−KL of the piece's largest KL.
   */
  shade: number;
  /** Some token of the piece is not the one the preference prompt ranked first. */
  changed: boolean;
}

export function traceMark(traces: readonly TokenTrace[]): TraceMark {
  const kl = Math.max(0, ...traces.map((trace) => trace.kl_divergence));
  return {
    shade: 1 - Math.exp(-kl),
    changed: traces.some((trace) => trace.realigned.token !== trace.preference.token),
  };
}

/** A token's text with spaces, tabs and line breaks shown (·, →, ↵), quoted so an empty one still shows. */
export function visibleText(text: string): string {
  return `“${text.replace(/ /g, '·').replace(/\t/g, '→').replace(/\r?\n/g, '↵')}”`;
}

/** A probability as a percentage with one decimal. */
export function percent(probability: number): string {
  return `${(probability * 100).toFixed(1)}%`;
}
