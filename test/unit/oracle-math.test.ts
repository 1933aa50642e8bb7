/**
 * The float64 oracle of the realignment (test/support/oracle.ts, written from
 * docs/algorithm.md) checked against itself, and the addon's guidanceScale()
 * against it. No model needed; test/model/oracle.test.ts compares the native
 * sampler's rows with the oracle on real models.
 */
import { seededRandom } from '../../eval/bootstrap';
import { AmuletError, guidanceScale } from '../../lib/index';
import {
  collapsedAmulet,
  collapsedScale,
  linearAlignment,
  literalAmuletLoop,
  logSoftmax,
  multiPreferenceAmulet,
  multiPreferenceLiteral,
  paperHyperparameters,
  paperLaRatio,
  plausibilityGate,
  realignedAtScale,
  withPlausibility,
  type AmuletHyperparameters,
} from '../support/oracle';

/** Oracle self-consistency in float64 (docs/algorithm.md reports 2e-14). */
const FLOAT64_TOLERANCE = 1e-12;
/** A seeded generator, so that the random rows are reproducible. */
const prng = seededRandom;

/** Random logits of spread `scale`, a few of them -inf. */
function randomLogits(random: () => number, n: number, scale: number, infCount: number): Float64Array {
  const z = new Float64Array(n);
  for (let i = 0; i < n; i++) z[i] = (random() * 2 - 1) * scale;
  for (let k = 0; k < infCount; k++) z[Math.floor(random() * n)] = -Infinity;
  return z;
}

function maxAbsDiff(a: Float64Array, b: Float64Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === -Infinity && b[i] === -Infinity) continue;
    max = Math.max(max, Math.abs(a[i] - b[i]));
  }
  return max;
}

function expectNormalised(row: Float64Array): void {
  let sum = 0;
  for (const v of row) {
    expect(Number.isNaN(v)).toBe(false);
    sum += Math.exp(v);
  }
  expect(Math.abs(sum - 1)).toBeLessThan(1e-12);
}

function expectInvalid(run: () => unknown): void {
  let thrown: unknown;
  try {
    run();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(AmuletError);
  expect((thrown as AmuletError).code).toBe('ERR_INVALID_OPTION');
}

describe('oracle', () => {
  it('collapsedScale reproduces the a_K of docs/algorithm.md', () => {
    const { alpha, lambda, eta } = paperHyperparameters;
    expect(collapsedScale(alpha, lambda, eta, 1)).toBeCloseTo(1.9524, 4);
    expect(collapsedScale(alpha, lambda, eta, 10)).toBeCloseTo(3.8976, 4);
    expect(collapsedScale(alpha, lambda, eta, 60)).toBeCloseTo(5.6487, 4);
  });

  it('collapsedScale converges to lambda / (lambda - alpha) when alpha < lambda, and grows otherwise', () => {
    for (const [alpha, lambda, eta] of [[1, 2, 10], [0.5, 3, 1], [0.5, 2, 10], [1, 4, 0.2]]) {
      const limit = lambda / (lambda - alpha);
      expect(Math.abs(collapsedScale(alpha, lambda, eta, 10000) - limit)).toBeLessThan(1e-2 * limit);
      expect(Math.abs(collapsedScale(alpha, lambda, eta, 10000) - limit))
        .toBeLessThan(Math.abs(collapsedScale(alpha, lambda, eta, 100) - limit));
    }
    expect(collapsedScale(2, 2, 10, 1000)).toBeGreaterThan(collapsedScale(2, 2, 10, 100));
    expect(collapsedScale(3, 2, 10, 1000)).toBeGreaterThan(100);
  });

  it('the literal loop equals softmax(l_p + (a_K - 1)(l_p - l_b)) on random logits, -inf included', () => {
    const random = prng(20250227);
    const configs: AmuletHyperparameters[] = [
      paperHyperparameters,
      { alpha: 2, lambda: 2, eta: 10, iterations: 1 },
      { alpha: 2, lambda: 2, eta: 10, iterations: 10 },
      { alpha: 1, lambda: 3, eta: 0.5, iterations: 25 },
      { alpha: 0.5, lambda: 1, eta: 100, iterations: 200 },
    ];
    let worst = 0;
    for (const params of configs) {
      for (let trial = 0; trial < 4; trial++) {
        const n = 500 + Math.floor(random() * 1500);
        const base = randomLogits(random, n, 8, 5);
        const pref = randomLogits(random, n, 8, 5);
        const literal = literalAmuletLoop(base, pref, params);
        // The collapsed form written out here, not through collapsedAmulet.
        const s = collapsedScale(params.alpha, params.lambda, params.eta, params.iterations) - 1;
        const lb = logSoftmax(base);
        const lp = logSoftmax(pref);
        const guided = new Float64Array(n);
        for (let v = 0; v < n; v++) {
          guided[v] = lb[v] === -Infinity || lp[v] === -Infinity ? -Infinity : lp[v] + s * (lp[v] - lb[v]);
        }
        const collapsed = logSoftmax(guided);
        for (let v = 0; v < n; v++) {
          const impossible = base[v] === -Infinity || pref[v] === -Infinity;
          expect(literal[v] === -Infinity).toBe(impossible);
          expect(collapsed[v] === -Infinity).toBe(impossible);
        }
        expectNormalised(literal);
        const diff = maxAbsDiff(literal, collapsed);
        worst = Math.max(worst, diff);
        expect(diff).toBeLessThanOrEqual(FLOAT64_TOLERANCE);
        expect(maxAbsDiff(collapsedAmulet(base, pref, params), collapsed)).toBeLessThanOrEqual(FLOAT64_TOLERANCE);
      }
    }
    console.log(`oracle: literal loop vs collapsed form, max |diff| = ${worst.toExponential(2)}`);
  });

  it('handles -inf and non-finite logits without NaN', () => {
    const base = [0, -Infinity, 1, 2, Number.NaN, 3];
    const pref = [1, 2, -Infinity, 0, 1, Infinity];
    const impossible = [false, true, true, false, true, true];
    const rows = [
      literalAmuletLoop(base, pref, paperHyperparameters),
      collapsedAmulet(base, pref, paperHyperparameters),
      linearAlignment(base, pref, paperLaRatio),
      multiPreferenceAmulet(base, [pref, base], [1, -0.5], paperHyperparameters),
      multiPreferenceLiteral(base, [pref, base], [1, -0.5], paperHyperparameters),
    ];
    for (const row of rows) {
      expectNormalised(row);
      impossible.forEach((expected, v) => expect(row[v] === -Infinity).toBe(expected));
    }
    expect(Array.from(logSoftmax([-Infinity, -Infinity]))).toEqual([-Infinity, -Infinity]);
  });

  it('LA and the multi-preference form reduce to the expected closed forms', () => {
    const random = prng(7);
    const n = 1000;
    const base = randomLogits(random, n, 10, 0);
    const pref = randomLogits(random, n, 10, 0);
    const other = randomLogits(random, n, 10, 0);
    // LA with ratio r is Amulet's family with s = r: log_softmax(l_p + r (l_p - l_b)).
    const lb = logSoftmax(base);
    const lp = logSoftmax(pref);
    const expected = logSoftmax(lp.map((v, i) => v + 2 * (v - lb[i])));
    expect(maxAbsDiff(linearAlignment(base, pref, 2), expected)).toBeLessThanOrEqual(FLOAT64_TOLERANCE);
    // Weight 1 on one preference is the paper's Amulet.
    expect(maxAbsDiff(multiPreferenceAmulet(base, [pref], [1], paperHyperparameters),
      literalAmuletLoop(base, pref, paperHyperparameters))).toBeLessThanOrEqual(FLOAT64_TOLERANCE);
    // Two preferences: the collapsed and the per-preference literal mixes agree.
    expect(maxAbsDiff(multiPreferenceAmulet(base, [pref, other], [1, -0.5], paperHyperparameters),
      multiPreferenceLiteral(base, [pref, other], [1, -0.5], paperHyperparameters))).toBeLessThanOrEqual(FLOAT64_TOLERANCE);
    // Weight 0 on every preference gives the base distribution.
    expect(maxAbsDiff(multiPreferenceAmulet(base, [pref], [0], paperHyperparameters), logSoftmax(base)))
      .toBeLessThanOrEqual(FLOAT64_TOLERANCE);
  });
});

describe('the plausibility constraint in the oracle', () => {
  it('keeps the tokens within log τ of the gate row\'s top, renormalised', () => {
    // Gate probabilities ∝ e^0, e^-1, e^-3, e^-inf: with τ = e^-2 the first two stay.
    const gate = [0, -1, -3, -Infinity];
    const realigned = logSoftmax([1, 2, 3, 4]);
    const kept = withPlausibility(realigned, gate, Math.exp(-2));
    expect(kept[2]).toBe(-Infinity);
    expect(kept[3]).toBe(-Infinity);
    const expected = logSoftmax([1, 2]);
    expect(kept[0]).toBeCloseTo(expected[0]!, 12);
    expect(kept[1]).toBeCloseTo(expected[1]!, 12);
    // τ = 1 keeps the gate's argmax alone; τ = 0 changes nothing.
    expect(Array.from(withPlausibility(realigned, gate, 1))).toEqual([0, -Infinity, -Infinity, -Infinity]);
    expect(withPlausibility(realigned, gate, 0)).toBe(realigned);
  });

  it('reads the first preference with a positive weight, else the base row', () => {
    const base = [0];
    const a = [1];
    const b = [2];
    expect(plausibilityGate(base, [a, b], [1, 1])).toBe(a);
    expect(plausibilityGate(base, [a, b], [-0.5, 1])).toBe(b);
    expect(plausibilityGate(base, [a, b], [-1, 0])).toBe(base);
  });
});

describe('the echo guard in the oracle', () => {
  const n = 64;
  const s = collapsedScale(2, 2, 10, 60) - 1;

  it("gives a guarded token l_p + min(0, s (l_p - l_b)) and every other token the paper's update", () => {
    const random = prng(11);
    const base = randomLogits(random, n, 6, 2);
    const pref = randomLogits(random, n, 6, 2);
    const guard = [[0, 3, 5, 17, 40, 63]];
    const lb = logSoftmax(base);
    const lp = logSoftmax(pref);
    const unnormalised = new Float64Array(n);
    for (let v = 0; v < n; v++) {
      const push = s * (lp[v] - lb[v]);
      const possible = lb[v] > -Infinity && lp[v] > -Infinity;
      unnormalised[v] = possible ? lp[v] + (guard[0].includes(v) ? Math.min(0, push) : push) : -Infinity;
    }
    expect(maxAbsDiff(realignedAtScale(base, [pref], [1], s, guard), logSoftmax(unnormalised)))
      .toBeLessThanOrEqual(FLOAT64_TOLERANCE);
    // Unguarded tokens keep their ratios to one another: the guard only lowers the guarded ones.
    const unguarded = realignedAtScale(base, [pref], [1], s);
    expect(maxAbsDiff(realignedAtScale(base, [pref], [1], s, [[]]), unguarded)).toBeLessThanOrEqual(FLOAT64_TOLERANCE);
  });

  it('with several preferences, each clips only its own push on its own tokens', () => {
    const random = prng(12);
    const base = randomLogits(random, n, 5, 0);
    const prefs = [randomLogits(random, n, 5, 0), randomLogits(random, n, 5, 0)];
    const weights = [1, -0.5];
    const guard = [[1, 2, 3], [3, 4, 5]];
    const lb = logSoftmax(base);
    const lp = prefs.map(logSoftmax);
    const unnormalised = new Float64Array(n);
    for (let v = 0; v < n; v++) {
      let value = lb[v];
      for (let j = 0; j < 2; j++) {
        const push = weights[j] * (lp[j][v] - lb[v]);
        value += push + s * (guard[j].includes(v) ? Math.min(0, push) : push);
      }
      unnormalised[v] = value;
    }
    expect(maxAbsDiff(realignedAtScale(base, prefs, weights, s, guard), logSoftmax(unnormalised)))
      .toBeLessThanOrEqual(FLOAT64_TOLERANCE);
  });
});

describe('native guidanceScale()', () => {
  const configs: AmuletHyperparameters[] = [
    paperHyperparameters,
    { alpha: 2, lambda: 2, eta: 10, iterations: 1 },
    { alpha: 2, lambda: 2, eta: 10, iterations: 10 },
    { alpha: 1, lambda: 2, eta: 10, iterations: 500 },
    { alpha: 0.3, lambda: 5, eta: 0.1, iterations: 7 },
    { alpha: 4, lambda: 1, eta: 2.5, iterations: 33 },
  ];

  it.each(configs)('matches collapsedScale - 1 for %o', (params) => {
    const expected = collapsedScale(params.alpha, params.lambda, params.eta, params.iterations) - 1;
    for (const method of ['amulet', 'amulet-iterative'] as const) {
      expect(Math.abs(guidanceScale({ method, ...params }) - expected)).toBeLessThanOrEqual(FLOAT64_TOLERANCE * Math.max(1, expected));
    }
  });

  it("is a_60 - 1: 1.5338 by default, 4.6487 at the paper's alpha 2; the ratio for la", () => {
    expect(guidanceScale()).toBeCloseTo(1.5338, 4);
    expect(guidanceScale({ alpha: 2 })).toBeCloseTo(4.6487, 4);
    expect(guidanceScale({ method: 'la' })).toBe(paperLaRatio);
    expect(guidanceScale({ method: 'la', ratio: 0.75 })).toBe(0.75);
  });

  it('rejects invalid hyperparameters with ERR_INVALID_OPTION', () => {
    for (const name of ['alpha', 'lambda', 'eta'] as const) {
      for (const value of [Number.NaN, -1, 0, Infinity]) expectInvalid(() => guidanceScale({ [name]: value }));
    }
    for (const iterations of [0, 1.5, -3, Number.NaN]) expectInvalid(() => guidanceScale({ iterations }));
    for (const ratio of [-0.5, Number.NaN]) expectInvalid(() => guidanceScale({ method: 'la', ratio }));
  });
});

