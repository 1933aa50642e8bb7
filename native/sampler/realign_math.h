// The per-token arithmetic of realignment over one vocabulary-sized row at a
// time. Pure C++ (no llama.h, no napi.h). Every function is one or two
// vectorisable passes; none allocates.
//
// Conventions: a "row" is a model's raw next-token logits z; its log-probs are
// l = z - logsumexp(z). A non-finite logit (-inf, +inf or NaN) means "this
// token is impossible": it is skipped by the reductions and stays -inf in
// every output, so no function here ever returns NaN.
#pragma once

#include <cstddef>
#include <cstdint>

namespace amulet {

/** log(sum(exp(z))) over the finite entries of z; -inf when there are none. */
float log_sum_exp(const float * z, size_t n);

/** out[i] = z[i] - log_sum_exp(z), or -inf where z[i] is not finite (out may be z). */
void log_softmax(const float * z, size_t n, float * out);

/** Index of the largest finite entry (first on ties); -1 when there is none. */
int32_t arg_max(const float * z, size_t n);

/**
 * The plausibility constraint: token i stays when gate[i] - max(gate) >= log_tau,
 * i.e. when the gate row's probability of it is at least tau times its top
 * probability. The difference is formed before the comparison, as the
 * compute graph forms it, so both paths cut at the same tokens. Off when
 * row is null.
 */
struct PlausibilityGate {
    const float * row = nullptr;
    float row_max = 0.0f;  // the largest finite entry of row
    float log_tau = 0.0f;
};

/** The gate of `row` at tau in (0, 1]. */
PlausibilityGate plausibility_gate(const float * row, size_t n, double tau);

/**
 * The closed form of the (generalised) Amulet update, in log space:
 *   out[i] = sum_k coef[k] * (rows[k][i] - lse[k])
 * where rows[0] is the base sequence, rows[1..] the preference sequences,
 * coef[0] = 1 - sum of the others. out[i] = -inf where any row is non-finite,
 * and where the gate (if any) rules token i out: fused into the same pass.
 * The result is an unnormalised log-distribution (softmax is shift-invariant).
 * With lse == nullptr the row constants are left out: out is then the same
 * row plus sum_k coef[k] * lse[k], a constant per token that an arg max or a
 * softmax does not see, and the n_rows log-sum-exps need not be computed.
 * The lse values, when given, are finite. Returns the largest entry of out:
 * -inf when no token is finite in every row.
 */
float combine_log_probs(const float * const * rows, const float * lse, const float * coef, size_t n_rows, size_t n,
                        float * out, const PlausibilityGate & gate = {});

/**
 * arg_max of the row combine_log_probs(rows, nullptr, coef, n_rows, n, out, gate)
 * writes, in one pass that writes no row: the greedy pick of the
 * realignment. -1 when no token is finite in every row and allowed by the gate.
 */
int32_t combine_arg_max(const float * const * rows, const float * coef, size_t n_rows, size_t n,
                        const PlausibilityGate & gate = {});

/**
 * The KL budget (docs/algorithm.md): the largest s' in [0, scale] with
 *   KL(softmax(A + s' D) || softmax(A)) <= budget
 * for the anchor row A (the realignment at scale 0) and the direction row D
 * (what the scale multiplies), both as combine_log_probs forms them (-inf
 * for a token impossible in any row). The KL grows with s' (its derivative
 * is s' times D's variance under the tilted distribution), so the root is
 * bracketed and found by Newton steps that fall back to bisection, each one
 * pass over the rows; the answer never exceeds the budget by more than the
 * stopping tolerance. Returns scale when it fits the budget, and for a
 * budget or a scale <= 0. The rows are scratch: the tokens that can carry
 * mass at some scale in [0, scale] are moved to their front, so that the
 * root finding reads those only.
 */
double kl_budgeted_scale(float * anchor, float * direction, size_t n, double scale, double budget);

/** The token ids of one preference's text (see echo_guard). */
struct GuardedTokens {
    const int32_t * ids = nullptr;
    size_t count = 0;
};

/**
 * The echo guard (docs/algorithm.md) on a row combine_log_probs wrote: for
 * preference j (rows[j + 1], weight weights[j]) and each token v of
 * sets[j], the push w_j (l_j(v) - l_b(v)) the scale multiplies is kept only
 * where it is negative,
 *   out[v] -= scale * max(0, w_j ((rows[j + 1][v] - lse[j + 1]) - (rows[0][v] - lse[0]))),
 * so that out[v] = A(v) + scale * min(0, ...) for a token one preference
 * guards. The row constants matter here (the sign of l_j - l_b does not
 * survive a shift), so lse is required. A token already -inf stays so.
 * Reads and writes the guarded tokens only: O(sum of the set sizes).
 * scale >= 0.
 */
void apply_echo_guard(const float * const * rows, const float * lse, const float * weights,
                      const GuardedTokens * sets, size_t n_preferences, float scale, float * out);

/** out[i] = -inf where the gate rules token i out (for rows formed otherwise: the literal loop). */
void apply_plausibility(const PlausibilityGate & gate, size_t n, float * out);

/**
 * Scratch for the literal K-iteration loop, in float64. The caller owns the
 * storage (four arrays of n doubles) so the per-token path never allocates.
 */
struct IterativeScratch {
    double * policy;      // M_i, log-probs of the current iterate
    double * utility;     // running sum of alpha * (M_i - l_b)
    double * iterate;     // L_i
    double * pref_log_p;  // l_p
};

/**
 * The paper's per-token FTRL loop exactly as written (docs/algorithm.md), for one
 * preference row against the base row. Writes log_softmax(L_K) to out_log_p
 * (float64, -inf where either row is non-finite).
 */
void amulet_literal_loop(const float * base, float base_lse, const float * pref, float pref_lse, double alpha,
                         double lambda, double eta, int32_t iterations, size_t n, const IterativeScratch & scratch,
                         double * out_log_p);

/** sum_i p_r[i] * (l_r[i] - l_b[i]) for p_r = softmax(realigned), l_b = base - base_lse. */
double kl_divergence(const float * realigned, float realigned_lse, const float * base, float base_lse, size_t n);

}  // namespace amulet
