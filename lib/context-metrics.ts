/**
 * The decode loop's counters and load, as the addon reports them and the
 * library hands them on: one contract for both, so it is declared once.
 *
 * @packageDocumentation
 */

/** What a context's decode loop has done since it was made, and its load now. */
export interface ContextMetrics {
  /** Generations admitted into the decode loop. */
  generationsStarted: number;
  /** Generations that ended, however they ended. */
  generationsFinished: number;
  /** Generations that ended with an error. */
  generationsFailed: number;
  /** Tokens generated, summed over the generations. */
  generatedTokens: number;
  /** Prompt tokens decoded (not those the KV cache held already). */
  evaluatedTokens: number;
  /** Decode steps (llama_decode calls). */
  steps: number;
  /** Times idle sequences lost their cache to make room in a full KV cache. */
  evictions: number;
  /** Generations decoding now. */
  running: number;
  /** Generations waiting for idle sequences. */
  waiting: number;
  /** KV sequences of the llama.cpp context (0 before its first generation). */
  sequences: number;
  /** Sequences a running generation holds. */
  busySequences: number;
  /** KV cells of the llama.cpp context. */
  cells: number;
  /** Tokens the sequences' caches hold, summed over the sequences (a shared prefix counted once per sequence). */
  kvTokens: number;
  /**
   * The time of each decode step, as a histogram: `counts[i]` steps took at
   * most `bounds[i]` seconds (and more than `bounds[i - 1]`); the last count
   * is of the steps beyond every bound. `sum` is their total time.
   */
  stepSeconds: {
    /** Upper bounds of the buckets, in seconds, ascending. */
    bounds: number[];
    /** Steps per bucket: one more entry than `bounds`, the last for the steps beyond every bound. */
    counts: number[];
    /** Total time of the steps, in seconds. */
    sum: number;
  };
}
