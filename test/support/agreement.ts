/**
 * Comparing two greedy decodings of the same prompt whose rows were computed
 * differently: by another arithmetic (the host combine against the compute
 * graph) or in differently shaped batches (one sequence against two, a cached
 * answer decoded token by token against the same text evaluated as a prompt).
 * Their float32 rows differ, so the same argmax is guaranteed only where the
 * top two tokens are not nearly tied: the runs must agree token for token up
 * to the first position where either run's top-two log-probability margin is
 * below a stated epsilon, and may differ from there on (each then continues a
 * different text). Never assumed: an answer's length, or that two shapes give
 * the same bits.
 */
import type { GenerationResult, PromptOptions, Session } from '../../lib/index';

/**
 * The same rows, combined by different arithmetic (float32 host combine, the
 * graph's, the float64 literal loop): rounding only, observed below 2e-5 nats.
 */
export const SAME_ROWS = 1e-3;

/**
 * Rows of one prompt computed in differently shaped batches: llama.cpp picks
 * other kernels (and, on AVX2, other activation packings) for other shapes.
 * Observed on Gemma-3-270M, log-probs of the top tokens: up to 0.15 nats
 * between a one- and a two-sequence batch, 0.52 between an answer cached
 * token by token and the same text evaluated as a prompt, with the portable
 * AVX2 build; 2e-6 with the AVX-512 one.
 */
export const ACROSS_SHAPES = 1;

/**
 * {@link ACROSS_SHAPES} for a realigned row `c_b l_b + Σ c_j l_j`: each row's
 * difference is multiplied by its coefficient, so the bound grows by the sum
 * of their magnitudes (|1 + s| + |s| for one preference at scale s; 10.3 with
 * the paper's s = 4.65).
 */
export function acrossShapesRealigned(guidanceScale: number): number {
  return ACROSS_SHAPES * (Math.abs(1 + guidanceScale) + Math.abs(guidanceScale));
}

/** A greedy decoding with the log-probabilities it sampled from, per token (`captureLogits: true`). */
export interface CapturedRun {
  tokens: number[];
  logProbs: Float32Array[];
  /** Per token, the raw logits of every sequence (base first). */
  rows: Float32Array[][];
  result: GenerationResult;
}

/** Runs one prompt with `captureLogits` and collects its tokens and log-probabilities. */
export async function captureRun(session: Session, text: string, options: PromptOptions): Promise<CapturedRun> {
  const run: CapturedRun = { tokens: [], logProbs: [], rows: [], result: undefined as unknown as GenerationResult };
  const stream = session.prompt(text, { ...options, captureLogits: true });
  for await (const chunk of stream) {
    for (const capture of chunk.captures ?? []) {
      run.tokens.push(capture.token);
      run.logProbs.push(capture.realignedLogProbs);
      run.rows.push([capture.baseLogits, ...capture.preferenceLogits]);
    }
  }
  run.result = await stream;
  return run;
}

/** Difference between the largest and second-largest entry of a row. */
export function topTwoMargin(row: Float32Array): number {
  let first = -Infinity;
  let second = -Infinity;
  for (const value of row) {
    if (value > first) {
      second = first;
      first = value;
    } else if (value > second) {
      second = value;
    }
  }
  return first - second;
}

/** Where two runs part: the first index at which their tokens differ or one has ended, and the margins there. */
export interface Divergence {
  /** Tokens both runs share from the start. */
  agreed: number;
  /** Whether they share every token and end together. */
  identical: boolean;
  /** The smaller of the two runs' top-two margins at the first difference (Infinity when identical). */
  margin: number;
}

export function divergence(a: CapturedRun, b: CapturedRun): Divergence {
  let agreed = 0;
  while (agreed < a.tokens.length && agreed < b.tokens.length && a.tokens[agreed] === b.tokens[agreed]) agreed++;
  const identical = agreed === a.tokens.length && agreed === b.tokens.length;
  if (identical) return { agreed, identical, margin: Infinity };
  const margins = [a, b].filter((run) => agreed < run.logProbs.length).map((run) => topTwoMargin(run.logProbs[agreed]!));
  return { agreed, identical, margin: Math.min(...margins) };
}

/** The ten largest entries' indices of a row, largest first, in one pass (a sort of 262k indices takes a second). */
function topTen(row: Float32Array): number[] {
  const top: number[] = [];
  for (let index = 0; index < row.length; index++) {
    const value = row[index]!;
    if (top.length === 10 && !(value > row[top[9]!]!)) continue;
    let at = top.length === 10 ? 9 : top.length;
    while (at > 0 && value > row[top[at - 1]!]!) at--;
    top.splice(at, 0, index);
    if (top.length > 10) top.pop();
  }
  return top;
}

/** log(sum(exp(row))), stably. */
function logSumExp(row: Float32Array): number {
  let max = -Infinity;
  for (const value of row) if (value > max) max = value;
  let sum = 0;
  for (const value of row) sum += Math.exp(value - max);
  return max + Math.log(sum);
}

/**
 * Asserts that two runs agree up to their first near-tie (margin below
 * `epsilon`) and, given a `rowTolerance` and raw rows in both runs, that
 * every sequence's log-probabilities of its top ten tokens stay within it at
 * each shared position: the check that a cached sequence holds what a fresh
 * one computes, whatever the realignment then amplifies. Returns where the
 * runs parted.
 */
export function expectAgreementUpToNearTie(a: CapturedRun, b: CapturedRun, epsilon: number,
  rowTolerance?: number): Divergence {
  const parted = divergence(a, b);
  const compared = rowTolerance === undefined ? 0 : Math.min(parted.agreed, a.rows.length, b.rows.length);
  for (let position = 0; position < compared; position++) {
    a.rows[position]!.forEach((row, sequence) => {
      const other = b.rows[position]![sequence];
      if (!other) return;
      const [norm, otherNorm] = [logSumExp(row), logSumExp(other)];
      for (const token of topTen(row)) {
        const difference = Math.abs(row[token]! - norm - (other[token]! - otherNorm));
        if (!(difference <= rowTolerance!)) {
          throw new Error(`sequence ${sequence}'s log-prob of token ${token} differs by ${difference} at position ` +
            `${position}, beyond ${rowTolerance}`);
        }
      }
    });
  }
  if (!parted.identical && !(parted.margin < epsilon)) {
    throw new Error(`the runs differ at token ${parted.agreed} (of ${a.tokens.length} and ${b.tokens.length}), ` +
      `where the top two tokens were ${parted.margin.toFixed(4)} nats apart, not a near-tie (< ${epsilon})`);
  }
  return parted;
}
