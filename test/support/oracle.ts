/**
 * An independent float64 oracle of what the realignment sampler computes,
 * written from docs/algorithm.md (not from the C++ in native/).
 *
 * Conventions, as docs/algorithm.md states them:
 * - `l = log_softmax(z)` is computed stably (subtract the max of the finite
 *   entries first).
 * - A non-finite logit (-inf, +inf or NaN) is treated as -inf: the token is
 *   impossible. A token that is impossible in ANY sequence that enters the
 *   formula stays -inf in the output. No function here ever returns NaN.
 * - Every result is a normalised log-probability row (Float64Array).
 *
 * Inputs may be any numeric array (Float32Array captured from the addon,
 * Float64Array, number[]); they are read as float64.
 */

/** The paper's hyperparameters of the online-learning loop. */
export interface AmuletHyperparameters {
  /** Reward scale α (> 0). */
  alpha: number;
  /** Weight λ of the proximal term (> 0). */
  lambda: number;
  /** Learning rate η (> 0). */
  eta: number;
  /** Iterations K (integer >= 1). */
  iterations: number;
}

/** The reference implementation's defaults (docs/algorithm.md). */
export const paperHyperparameters: Readonly<AmuletHyperparameters> = Object.freeze({
  alpha: 2,
  lambda: 2,
  eta: 10,
  iterations: 60,
});

/** The reference implementation's default LA ratio. */
export const paperLaRatio = 2;

type Row = ArrayLike<number>;

// Module-level aliases: inside jest's vm context every access to a global
// (Math, Number, Infinity) goes through the sandbox's global object and costs
// ~20x a local access, which matters in loops over a 262k vocabulary.
const exp = Math.exp;
const log = Math.log;
const finite = Number.isFinite;
const isNaN = Number.isNaN;
const abs = Math.abs;
const mathMax = Math.max;
const NEG_INF = -Infinity;

function checkHyperparameters({ alpha, lambda, eta, iterations }: AmuletHyperparameters): void {
  for (const [name, value] of [['alpha', alpha], ['lambda', lambda], ['eta', eta]] as const) {
    if (!finite(value) || value <= 0) throw new RangeError(`${name} must be finite and > 0 (got ${value})`);
  }
  if (!Number.isInteger(iterations) || iterations < 1) {
    throw new RangeError(`iterations must be an integer >= 1 (got ${iterations})`);
  }
}

function checkSameLength(rows: readonly Row[]): number {
  const n = rows[0].length;
  for (const row of rows) {
    if (row.length !== n) throw new RangeError(`rows of different lengths (${n} and ${row.length})`);
  }
  return n;
}

/**
 * Stable log_softmax in float64. Non-finite entries are -inf in the output;
 * a row with no finite entry gives all -inf.
 */
export function logSoftmax(z: Row): Float64Array {
  const n = z.length;
  const out = new Float64Array(n);
  let max = NEG_INF;
  for (let i = 0; i < n; i++) {
    const v = z[i];
    if (finite(v) && v > max) max = v;
  }
  if (max === NEG_INF) return out.fill(NEG_INF);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = z[i];
    if (finite(v)) sum += exp(v - max);
  }
  const lse = max + log(sum);
  for (let i = 0; i < n; i++) {
    const v = z[i];
    out[i] = finite(v) ? v - lse : NEG_INF;
  }
  return out;
}

/**
 * a_K of the collapsed loop, by the recurrence of docs/algorithm.md:
 * a_0 = 1, S_0 = 0, S_i = S_{i-1} + a_{i-1},
 * a_i = (λ + α S_i / i + a_{i-1} / (η i)) / (λ + 1 / (η i)).
 * The realigned distribution is softmax(l_p + (a_K − 1)(l_p − l_b)).
 */
export function collapsedScale(alpha: number, lambda: number, eta: number, iterations: number): number {
  checkHyperparameters({ alpha, lambda, eta, iterations });
  let a = 1;
  let s = 0;
  for (let i = 1; i <= iterations; i++) {
    s += a;
    a = (lambda + (alpha * s) / i + a / (eta * i)) / (lambda + 1 / (eta * i));
  }
  return a;
}

/**
 * The paper's per-token loop, literally (docs/algorithm.md):
 *
 * ```
 * M_0 = l_p; Qsum = 0
 * for i in 1..K:
 *   Qsum += α (M_{i-1} − l_b)
 *   L_i   = (λ l_p + Qsum / i + M_{i-1} / (η i)) / (λ + 1 / (η i))
 *   M_i   = log_softmax(L_i)        (not on i = K)
 * ```
 *
 * Returns log_softmax(L_K). Tokens that are -inf in l_b or l_p are -inf
 * throughout (the reference would produce NaN there) and take no part.
 */
export function literalAmuletLoop(baseLogits: Row, prefLogits: Row, params: AmuletHyperparameters): Float64Array {
  checkHyperparameters(params);
  const { alpha, lambda, eta, iterations } = params;
  const n = checkSameLength([baseLogits, prefLogits]);
  const lb = logSoftmax(baseLogits);
  const lp = logSoftmax(prefLogits);
  const possible = new Uint8Array(n);
  for (let v = 0; v < n; v++) possible[v] = lb[v] > NEG_INF && lp[v] > NEG_INF ? 1 : 0;

  let policy: Float64Array = new Float64Array(n); // M_{i-1}
  for (let v = 0; v < n; v++) policy[v] = possible[v] ? lp[v] : NEG_INF;
  const qsum = new Float64Array(n);
  const iterate = new Float64Array(n); // L_i
  for (let i = 1; i <= iterations; i++) {
    const etaI = eta * i;
    const denominator = lambda + 1 / etaI;
    for (let v = 0; v < n; v++) {
      if (!possible[v]) {
        iterate[v] = NEG_INF;
        continue;
      }
      qsum[v] += alpha * (policy[v] - lb[v]);
      iterate[v] = (lambda * lp[v] + qsum[v] / i + policy[v] / etaI) / denominator;
    }
    if (i < iterations) policy = logSoftmax(iterate);
  }
  return logSoftmax(iterate);
}

/**
 * The collapsed single-preference form: log_softmax(l_p + (a_K − 1)(l_p − l_b)),
 * which docs/algorithm.md shows equal to the literal loop.
 */
export function collapsedAmulet(baseLogits: Row, prefLogits: Row, params: AmuletHyperparameters): Float64Array {
  return multiPreferenceAmulet(baseLogits, [prefLogits], [1], params);
}

/**
 * Linear Alignment on raw logits: log_softmax(z_p + r (z_p − z_b)).
 * A token non-finite in either sequence is -inf.
 */
export function linearAlignment(baseLogits: Row, prefLogits: Row, ratio: number): Float64Array {
  if (!finite(ratio) || ratio < 0) throw new RangeError(`ratio must be finite and >= 0 (got ${ratio})`);
  const n = checkSameLength([baseLogits, prefLogits]);
  const z = new Float64Array(n);
  for (let v = 0; v < n; v++) {
    const zb = baseLogits[v];
    const zp = prefLogits[v];
    z[v] = finite(zb) && finite(zp) ? zp + ratio * (zp - zb) : NEG_INF;
  }
  return logSoftmax(z);
}

/**
 * The project's multi-preference generalisation, normalised:
 * log_softmax(l_b + Σ_j w_j a_K (l_j − l_b)). With one preference and w = 1
 * this is the paper's Amulet. A token -inf in any sequence stays -inf.
 */
export function multiPreferenceAmulet(
  baseLogits: Row,
  prefLogits: readonly Row[],
  weights: readonly number[],
  params: AmuletHyperparameters,
): Float64Array {
  const a = collapsedScale(params.alpha, params.lambda, params.eta, params.iterations);
  return mixLogProbs(baseLogits, prefLogits.map(logSoftmax), weights.map((w) => w * a));
}

/**
 * The echo guard's token sets (docs/algorithm.md): for preference j, the
 * token ids of its own text, whose push w_j (l_j − l_b) the scale may only
 * multiply where it is negative. Absent or empty: no guard.
 */
export type EchoGuard = readonly (readonly number[])[];

/**
 * A = l_b + Σ_j w_j (l_j − l_b) and D = Σ_j d_j with d_j = w_j (l_j − l_b),
 * or min(0, d_j) at the tokens of guard[j]; -inf in A where any row is.
 */
function guidanceRows(baseLogits: Row, prefLogits: readonly Row[], weights: readonly number[], guard: EchoGuard = []):
  { anchor: Float64Array; direction: Float64Array } {
  const n = checkSameLength([baseLogits, ...prefLogits]);
  const lb = logSoftmax(baseLogits);
  const lp = prefLogits.map(logSoftmax);
  const guarded = prefLogits.map((_, j) => {
    const mask = new Uint8Array(n);
    for (const v of guard[j] ?? []) mask[v] = 1;
    return mask;
  });
  const anchor = new Float64Array(n);
  const direction = new Float64Array(n);
  for (let v = 0; v < n; v++) {
    let a = 0;
    let d = 0;
    let possible = lb[v] > NEG_INF;
    for (let j = 0; j < lp.length; j++) {
      possible &&= lp[j][v] > NEG_INF;
      const push = weights[j] * (lp[j][v] - lb[v]);
      a += push;
      d += guarded[j][v] === 1 && push > 0 ? 0 : push;
    }
    anchor[v] = possible ? lb[v] + a : NEG_INF;
    direction[v] = possible ? d : 0;
  }
  return { anchor, direction };
}

/**
 * The realignment at guidance scale s, normalised: log_softmax(A + s D)
 * (docs/algorithm.md). With one preference of weight 1 and s = a_K − 1 this
 * is {@link collapsedAmulet}. With a guard, D is clipped at the guarded
 * tokens: one preference's guarded token v gets l_p(v) + min(0, s (l_p(v) − l_b(v))).
 */
export function realignedAtScale(baseLogits: Row, prefLogits: readonly Row[], weights: readonly number[],
  s: number, guard: EchoGuard = []): Float64Array {
  const { anchor, direction } = guidanceRows(baseLogits, prefLogits, weights, guard);
  const z = new Float64Array(anchor.length);
  for (let v = 0; v < z.length; v++) z[v] = anchor[v] > NEG_INF ? anchor[v] + s * direction[v] : NEG_INF;
  return logSoftmax(z);
}

/** KL(softmax(A + s D) ‖ softmax(A)) for rows from guidanceRows; `from` is log_softmax(A). */
function klAtScale(anchor: Float64Array, direction: Float64Array, from: Float64Array, s: number): number {
  const z = new Float64Array(anchor.length);
  for (let v = 0; v < z.length; v++) z[v] = anchor[v] > NEG_INF ? anchor[v] + s * direction[v] : NEG_INF;
  const to = logSoftmax(z);
  let kl = 0;
  for (let v = 0; v < to.length; v++) if (to[v] > NEG_INF) kl += exp(to[v]) * (to[v] - from[v]);
  return mathMax(0, kl);
}

/** KL(softmax(A + s D) ‖ softmax(A)), in nats: how far scale s moves the token from the scale-0 mix. */
export function guidanceKl(baseLogits: Row, prefLogits: readonly Row[], weights: readonly number[], s: number,
  guard: EchoGuard = []): number {
  const { anchor, direction } = guidanceRows(baseLogits, prefLogits, weights, guard);
  return klAtScale(anchor, direction, logSoftmax(anchor), s);
}

/**
 * The KL budget B (docs/algorithm.md): the largest s' in [0, scale] with
 * {@link guidanceKl} ≤ B, by bisection in float64 (the KL grows with s').
 * B = 0 or scale ≤ 0 give scale.
 */
export function klBudgetedScale(baseLogits: Row, prefLogits: readonly Row[], weights: readonly number[], scale: number,
  budget: number, guard: EchoGuard = []): number {
  if (!(budget > 0) || !(scale > 0)) return scale;
  const { anchor, direction } = guidanceRows(baseLogits, prefLogits, weights, guard);
  const from = logSoftmax(anchor);
  if (klAtScale(anchor, direction, from, scale) <= budget) return scale;
  let lo = 0;
  let hi = scale;
  for (let i = 0; i < 30; i++) {
    const mid = (lo + hi) / 2;
    if (klAtScale(anchor, direction, from, mid) <= budget) lo = mid;
    else hi = mid;
  }
  return lo;
}

/**
 * The iterative multi-preference mix: log_softmax(l_b + Σ_j w_j (M_j − l_b)),
 * with M_j the literal loop's result for preference j. Equal to
 * {@link multiPreferenceAmulet} in exact arithmetic.
 */
export function multiPreferenceLiteral(
  baseLogits: Row,
  prefLogits: readonly Row[],
  weights: readonly number[],
  params: AmuletHyperparameters,
): Float64Array {
  return mixLogProbs(baseLogits, prefLogits.map((pref) => literalAmuletLoop(baseLogits, pref, params)), weights);
}

/** log_softmax(l_b + Σ_j c_j (rows_j − l_b)); rows_j are log-prob rows; -inf anywhere gives -inf. */
function mixLogProbs(baseLogits: Row, rows: readonly Float64Array[], coefficients: readonly number[]): Float64Array {
  if (rows.length !== coefficients.length) throw new RangeError('one weight per preference');
  if (rows.length === 0) throw new RangeError('at least one preference');
  for (const c of coefficients) if (!finite(c)) throw new RangeError(`non-finite weight ${c}`);
  const n = checkSameLength([baseLogits, ...rows]);
  const lb = logSoftmax(baseLogits);
  const mixed = Float64Array.from(lb);
  for (let j = 0; j < rows.length; j++) {
    const row = rows[j];
    const c = coefficients[j];
    for (let v = 0; v < n; v++) {
      // -inf stays -inf whatever the sign of c or the other rows (no inf − inf).
      mixed[v] = mixed[v] > NEG_INF && row[v] > NEG_INF ? mixed[v] + c * (row[v] - lb[v]) : NEG_INF;
    }
  }
  return logSoftmax(mixed);
}

/**
 * The plausibility constraint (docs/algorithm.md) on a realigned row: token v
 * stays when gate[v] − max(gate) ≥ log τ, the others become -inf, and the row
 * is renormalised. The difference and log τ are rounded to float32 before the
 * comparison, as the native sampler forms them from float32 logits, so that a
 * token at the threshold falls on the same side. τ = 0 leaves the row as it is.
 */
export function withPlausibility(logProbs: Float64Array, gateLogits: Row, tau: number): Float64Array {
  if (!(tau >= 0 && tau <= 1)) throw new RangeError(`plausibility must be in [0, 1] (got ${tau})`);
  if (tau === 0) return logProbs;
  const n = checkSameLength([logProbs, gateLogits]);
  let max = NEG_INF;
  for (let v = 0; v < n; v++) if (finite(gateLogits[v]) && gateLogits[v] > max) max = gateLogits[v];
  const logTau = Math.fround(log(tau));
  const kept = new Float64Array(n);
  for (let v = 0; v < n; v++) {
    const g = gateLogits[v];
    kept[v] = finite(g) && Math.fround(g - max) >= logTau ? logProbs[v] : NEG_INF;
  }
  return logSoftmax(kept);
}

/**
 * The row the constraint reads among [base, preference rows]: the first
 * preference with a positive weight, else the base row.
 */
export function plausibilityGate(baseLogits: Row, prefLogits: readonly Row[], weights: readonly number[]): Row {
  const first = weights.findIndex((weight) => weight > 0);
  return first < 0 ? baseLogits : prefLogits[first];
}

/** Index of the largest entry (the first on ties); -1 if none is finite. */
export function argMax(row: Row): number {
  let best = -1;
  let bestValue = NEG_INF;
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    if (finite(v) && (best < 0 || v > bestValue)) {
      best = i;
      bestValue = v;
    }
  }
  return best;
}

/** How one row of log-probabilities differs from an oracle row. */
export interface RowComparison {
  /** max |actual − oracle| over tokens whose oracle log-prob is above the floor. */
  maxDiff: number;
  /** The token where maxDiff is reached (-1 if no token is above the floor). */
  maxDiffIndex: number;
  /** Tokens above the floor. */
  compared: number;
  /**
   * Mean of actual − oracle over the compared tokens: a uniform offset, i.e.
   * an error of the actual row's normalisation rather than of its shape.
   */
  meanOffset: number;
  /** max |actual − oracle − meanOffset| over the compared tokens. */
  shapeDiff: number;
  /** Σ exp(actual) − 1 over every token: how far the actual row is from normalised. */
  massError: number;
  /** Tokens whose finiteness differs (one is -inf, the other not), or whose actual value is NaN (first 16). */
  finitenessMismatches: number[];
  actualArgMax: number;
  oracleArgMax: number;
  /** oracle[oracleArgMax] − oracle[actualArgMax]: 0 when the argmaxes agree. */
  argMaxGap: number;
}

/**
 * Compares actual log-probs with an oracle over tokens whose oracle log-prob
 * exceeds `floor` (far-tail tokens carry float32 rounding of large logits but
 * no probability mass). Finiteness is compared on every token.
 */
export function compareLogProbs(actual: Row, oracle: Float64Array, floor: number): RowComparison {
  const n = checkSameLength([actual, oracle]);
  let maxDiff = 0;
  let maxDiffIndex = -1;
  let compared = 0;
  let offsetSum = 0;
  let mass = 0;
  const finitenessMismatches: number[] = [];
  for (let v = 0; v < n; v++) {
    const a = actual[v];
    const o = oracle[v];
    if (a > NEG_INF) mass += exp(a);
    if (isNaN(a) || finite(a) !== finite(o)) {
      if (finitenessMismatches.length < 16) finitenessMismatches.push(v);
      continue;
    }
    if (o > floor) {
      compared++;
      offsetSum += a - o;
      const d = abs(a - o);
      if (d > maxDiff || maxDiffIndex < 0) {
        maxDiff = d;
        maxDiffIndex = v;
      }
    }
  }
  const meanOffset = compared > 0 ? offsetSum / compared : 0;
  let shapeDiff = 0;
  for (let v = 0; v < n; v++) {
    const a = actual[v];
    const o = oracle[v];
    if (o > floor && finite(a)) shapeDiff = mathMax(shapeDiff, abs(a - o - meanOffset));
  }
  const actualArgMax = argMax(actual);
  const oracleArgMax = argMax(oracle);
  const argMaxGap = actualArgMax < 0 ? Infinity : oracle[oracleArgMax] - oracle[actualArgMax];
  return {
    maxDiff, maxDiffIndex, compared, meanOffset, shapeDiff, massError: mass - 1,
    finitenessMismatches, actualArgMax, oracleArgMax, argMaxGap,
  };
}
