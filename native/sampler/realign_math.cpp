#include "sampler/realign_math.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>

namespace amulet {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr double kNegInfD = -std::numeric_limits<double>::infinity();

// Compiles to a vector compare; false for +-inf and NaN.
inline bool is_finite(float x) { return std::fabs(x) <= FLT_MAX; }
inline bool is_finite(double x) { return std::fabs(x) <= DBL_MAX; }

// exp(x) for x <= 0 in plain arithmetic so that the loops around it vectorise
// (libm's expf does not). Range reduction x = n ln2 + r with ln2 split in two
// parts, then a degree-6 polynomial for e^r on [-ln2/2, ln2/2] (the classic
// Cephes coefficients); about 1 ulp over the range used here.
inline float exp_non_positive(float x) {
    x = std::max(x, -87.33654f);  // below this e^x is no longer a normal float
    // Round to nearest by the 1.5 * 2^23 trick: exact for |v| < 2^22 and
    // vectorises on every x86-64 level (std::floor needs SSE4.1).
    constexpr float kRound = 12582912.0f;
    const float n = (x * 1.44269504088896341f + kRound) - kRound;
    float r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

// Rows are reduced per block of kBlock entries (4 KiB): a block's max and its
// exponentials are computed while it is still in L1, so a row is read from
// memory once. The reductions are `omp simd` loops (-fopenmp-simd), which the
// compiler vectorises without -ffast-math.
constexpr size_t kBlock = 1024;

float finite_max(const float * z, size_t n) {
    float m = kNegInf;
#pragma omp simd reduction(max : m)
    for (size_t i = 0; i < n; ++i) {
        const float v = is_finite(z[i]) ? z[i] : kNegInf;
        m = m < v ? v : m;
    }
    return m;
}

// sum of e^(z - m) over the finite entries of one block (all <= m), in float:
// each vector lane adds kBlock / lanes terms (128 with AVX2, 256 with SSE2 or
// NEON), so its relative error stays below 256 float epsilons (1.5e-5) even
// in the worst case. The blocks are added in double, so a 262k vocabulary's
// tail mass is kept.
float block_exp_sum(const float * z, size_t n, float m) {
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (size_t i = 0; i < n; ++i) sum += is_finite(z[i]) ? exp_non_positive(z[i] - m) : 0.0f;
    return sum;
}

double log_sum_exp(const double * x, size_t n) {
    double m = kNegInfD;
    for (size_t i = 0; i < n; ++i) {
        if (is_finite(x[i])) m = std::max(m, x[i]);
    }
    if (!is_finite(m)) return kNegInfD;
    double sum = 0.0;
    for (size_t i = 0; i < n; ++i) {
        if (is_finite(x[i])) sum += std::exp(x[i] - m);
    }
    return m + std::log(sum);
}

// Entries [begin, begin + n) of combine_log_probs's row, written to out[0, n);
// returns their largest. A non-finite logit in any row makes the weighted sum
// non-finite (0 * inf is NaN, and a negative coefficient turns -inf into
// +inf), which the final select turns into -inf, as it does a token the gate
// rules out: fused into the same pass.
float combine_block(const float * const * rows, const float * coef, size_t n_rows, size_t begin, size_t n,
                    float shift, const PlausibilityGate & gate, float * out) {
    float top = kNegInf;
    const float * g = gate.row != nullptr ? gate.row + begin : nullptr;
    const float g_top = gate.row_max;
    const float log_tau = gate.log_tau;
    if (n_rows == 2) {  // base + one preference: one fused pass
        const float * z0 = rows[0] + begin;
        const float * z1 = rows[1] + begin;
        const float c0 = coef[0];
        const float c1 = coef[1];
        if (g != nullptr) {
#pragma omp simd reduction(max : top)
            for (size_t i = 0; i < n; ++i) {
                const float v = c0 * z0[i] + c1 * z1[i];
                const float shifted = is_finite(v) ? v - shift : kNegInf;
                const float o = g[i] - g_top >= log_tau ? shifted : kNegInf;
                out[i] = o;
                top = top < o ? o : top;
            }
            return top;
        }
#pragma omp simd reduction(max : top)
        for (size_t i = 0; i < n; ++i) {
            const float v = c0 * z0[i] + c1 * z1[i];
            const float o = is_finite(v) ? v - shift : kNegInf;
            out[i] = o;
            top = top < o ? o : top;
        }
        return top;
    }
    const float c0 = coef[0];
    const float * z0 = rows[0] + begin;
#pragma omp simd
    for (size_t i = 0; i < n; ++i) out[i] = c0 * z0[i];
    for (size_t k = 1; k < n_rows; ++k) {
        const float ck = coef[k];
        const float * zk = rows[k] + begin;
#pragma omp simd
        for (size_t i = 0; i < n; ++i) out[i] += ck * zk[i];
    }
#pragma omp simd reduction(max : top)
    for (size_t i = 0; i < n; ++i) {
        const float shifted = is_finite(out[i]) ? out[i] - shift : kNegInf;
        const float o = g == nullptr || g[i] - g_top >= log_tau ? shifted : kNegInf;
        out[i] = o;
        top = top < o ? o : top;
    }
    return top;
}

// The tilted distribution of the KL budget at scale s: softmax(x) with
// x = (A - a_max) + s (D - d_ref). Returns log sum exp(x), and the mean and
// variance of D - d_ref under softmax(x).
struct TiltMoments {
    double log_mass, mean, variance;
};

TiltMoments tilted_moments(const float * anchor, const float * direction, size_t n, float a_max, float d_ref, float s) {
    float x[kBlock];
    float w[kBlock];
    float dd[kBlock];
    double m = kNegInfD, m0 = 0.0, m1 = 0.0, m2 = 0.0;
    for (size_t start = 0; start < n; start += kBlock) {
        const size_t len = std::min(kBlock, n - start);
        const float * a = anchor + start;
        const float * d = direction + start;
#pragma omp simd
        for (size_t i = 0; i < len; ++i) {
            dd[i] = d[i] - d_ref;
            x[i] = is_finite(a[i]) ? (a[i] - a_max) + s * dd[i] : kNegInf;
        }
        const float block_max = finite_max(x, len);
        if (!is_finite(block_max)) continue;
        if (block_max > m) {
            if (is_finite(m)) {
                const double rescale = std::exp(m - block_max);
                m0 *= rescale;
                m1 *= rescale;
                m2 *= rescale;
            }
            m = block_max;
        }
        const float shift = static_cast<float>(m);
#pragma omp simd
        for (size_t i = 0; i < len; ++i) {
            const bool possible = is_finite(x[i]);
            w[i] = possible ? exp_non_positive(x[i] - shift) : 0.0f;
            dd[i] = possible ? dd[i] : 0.0f;
        }
        // In double: the KL is a difference of two such sums' logarithms.
        double b0 = 0.0, b1 = 0.0, b2 = 0.0;
#pragma omp simd reduction(+ : b0, b1, b2)
        for (size_t i = 0; i < len; ++i) {
            const double wi = w[i];
            const double di = dd[i];
            b0 += wi;
            b1 += wi * di;
            b2 += wi * di * di;
        }
        m0 += b0;
        m1 += b1;
        m2 += b2;
    }
    const double mean = m1 / m0;
    return {m + std::log(m0), mean, std::max(0.0, m2 / m0 - mean * mean)};
}

}  // namespace

float log_sum_exp(const float * z, size_t n) {
    // Online over blocks: when a block raises the running max m, the sum so
    // far (relative to the old m) is rescaled by e^(m_old - m_new).
    float m = kNegInf;
    double sum = 0.0;
    for (size_t start = 0; start < n; start += kBlock) {
        const size_t len = std::min(kBlock, n - start);
        const float block_max = finite_max(z + start, len);
        if (block_max > m) {
            if (m != kNegInf) sum *= std::exp(static_cast<double>(m) - static_cast<double>(block_max));
            m = block_max;
        }
        if (m != kNegInf) sum += static_cast<double>(block_exp_sum(z + start, len, m));
    }
    if (!is_finite(m)) return kNegInf;
    return m + static_cast<float>(std::log(sum));
}

void log_softmax(const float * z, size_t n, float * out) {
    const float lse = log_sum_exp(z, n);
    for (size_t i = 0; i < n; ++i) out[i] = std::isfinite(z[i]) ? z[i] - lse : -INFINITY;
}

int32_t arg_max(const float * z, size_t n) {
    // The first block that holds the max, by vectorised block maxima; then
    // the first entry equal to it inside that block.
    float best = kNegInf;
    size_t best_block = n;
    for (size_t start = 0; start < n; start += kBlock) {
        const float block_max = finite_max(z + start, std::min(kBlock, n - start));
        if (block_max > best) {
            best = block_max;
            best_block = start;
        }
    }
    for (size_t i = best_block; i < n; ++i) {
        if (z[i] == best) return static_cast<int32_t>(i);
    }
    return -1;  // no finite entry
}

PlausibilityGate plausibility_gate(const float * row, size_t n, double tau) {
    return {row, finite_max(row, n), static_cast<float>(std::log(tau))};
}

void apply_plausibility(const PlausibilityGate & gate, size_t n, float * out) {
    if (gate.row == nullptr) return;
    const float * g = gate.row;
    const float top = gate.row_max;
    const float log_tau = gate.log_tau;
#pragma omp simd
    for (size_t i = 0; i < n; ++i) out[i] = g[i] - top >= log_tau ? out[i] : kNegInf;
}

void apply_echo_guard(const float * const * rows, const float * lse, const float * weights,
                      const GuardedTokens * sets, size_t n_preferences, float scale, float * out) {
    const float * base = rows[0];
    for (size_t j = 0; j < n_preferences; ++j) {
        const float * pref = rows[j + 1];
        const float offset = lse[j + 1] - lse[0];
        const float weight = weights[j];
        for (size_t k = 0; k < sets[j].count; ++k) {
            const auto v = static_cast<size_t>(sets[j].ids[k]);
            if (!is_finite(out[v])) continue;
            const float push = weight * ((pref[v] - base[v]) - offset);
            if (push > 0.0f) out[v] -= scale * push;
        }
    }
}

float combine_log_probs(const float * const * rows, const float * lse, const float * coef, size_t n_rows, size_t n,
                        float * out, const PlausibilityGate & gate) {
    // The row constants fold into one shift.
    float shift = 0.0f;
    if (lse != nullptr) {
        for (size_t k = 0; k < n_rows; ++k) shift += coef[k] * lse[k];
    }
    // By blocks, so that with several preferences each block stays in L1
    // between its passes.
    float top = kNegInf;
    for (size_t start = 0; start < n; start += kBlock) {
        top = std::max(top, combine_block(rows, coef, n_rows, start, std::min(kBlock, n - start), shift, gate,
                                          out + start));
    }
    return top;
}

int32_t combine_arg_max(const float * const * rows, const float * coef, size_t n_rows, size_t n,
                        const PlausibilityGate & gate) {
    // Each block is combined into a scratch block in L1 instead of a row in
    // memory, by the same code as combine_log_probs, so the values and the
    // pick are the same: the first block that holds the max, combined again,
    // then the first entry equal to it inside that block.
    float block[kBlock];
    float best = kNegInf;
    size_t best_block = n;
    for (size_t start = 0; start < n; start += kBlock) {
        const float block_max = combine_block(rows, coef, n_rows, start, std::min(kBlock, n - start), 0.0f, gate, block);
        if (block_max > best) {
            best = block_max;
            best_block = start;
        }
    }
    if (best_block == n) return -1;  // no token is finite in every row
    const size_t len = std::min(kBlock, n - best_block);
    combine_block(rows, coef, n_rows, best_block, len, 0.0f, gate, block);
    size_t i = 0;
    while (block[i] != best) ++i;
    return static_cast<int32_t>(best_block + i);
}

double kl_budgeted_scale(float * anchor, float * direction, size_t n, double scale, double budget) {
    if (!(budget > 0) || !(scale > 0)) return scale;
    const int32_t top = arg_max(anchor, n);
    if (top < 0) return scale;
    const float a_max = anchor[top];
    const float d_ref = direction[top];  // D is centred here so that its moments do not cancel away
    // At any scale s' <= reach the top token keeps x >= 0, so a token whose
    // x stays below -kNegligible for every such s' carries less than e^-40 of
    // the mass: it moves neither the KL nor its derivative. Only the others
    // are kept, at the front of the rows; again each time the bracket's upper
    // end halves.
    constexpr float kNegligible = 40.0f;
    double reach = scale;
    const auto compact = [&]() {
        const float r = static_cast<float>(reach);
        size_t kept = 0;
        for (size_t i = 0; i < n; ++i) {
            const float a = anchor[i];
            const float d = direction[i];
            if (!is_finite(a) || (a - a_max) + r * std::max(0.0f, d - d_ref) < -kNegligible) continue;
            anchor[kept] = a;
            direction[kept] = d;
            ++kept;
        }
        n = kept;
    };
    compact();
    const auto tilt = [&](double s) {
        return tilted_moments(anchor, direction, n, a_max, d_ref, static_cast<float>(s));
    };
    const TiltMoments at_zero = tilt(0.0);
    // KL(q_s || q_0) = s E_s[D] - (log Z_s - log Z_0), the centring constants cancelling.
    const auto kl_minus_budget = [&](double s, TiltMoments & t) {
        t = tilt(s);
        return s * t.mean - (t.log_mass - at_zero.log_mass) - budget;
    };
    TiltMoments t{};
    if (kl_minus_budget(scale, t) <= 0.0) return scale;
    // The tolerance sits above the float32 rounding of the exponents.
    const double tolerance = 1e-6 + 1e-5 * budget;
    double lo = 0.0, hi = scale;
    // Start from the second-order estimate s^2 Var_0(D) / 2 = budget.
    double s = at_zero.variance > 0.0 ? std::sqrt(2.0 * budget / at_zero.variance) : 0.5 * scale;
    if (!(s > lo && s < hi)) s = 0.5 * (lo + hi);
    for (int32_t step = 0; step < 60; ++step) {
        const double f = kl_minus_budget(s, t);
        if (std::fabs(f) <= tolerance) return s;
        (f > 0.0 ? hi : lo) = s;
        if (hi - lo <= 1e-7 * scale) break;
        if (hi < 0.5 * reach) {
            reach = hi;
            compact();
        }
        const double slope = s * t.variance;  // d KL / ds
        double next = slope > 0.0 ? s - f / slope : 0.5 * (lo + hi);
        if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
        s = next;
    }
    return lo;  // within the budget
}

void amulet_literal_loop(const float * base, float base_lse, const float * pref, float pref_lse, double alpha,
                         double lambda, double eta, int32_t iterations, size_t n, const IterativeScratch & scratch,
                         double * out_log_p) {
    double * policy = scratch.policy;
    double * utility = scratch.utility;
    double * iterate = scratch.iterate;
    double * lp = scratch.pref_log_p;
    for (size_t i = 0; i < n; ++i) {
        const bool possible = is_finite(base[i]) && is_finite(pref[i]);
        lp[i] = possible ? static_cast<double>(pref[i]) - pref_lse : kNegInfD;
        policy[i] = lp[i];
        utility[i] = 0.0;
    }
    for (int32_t step = 1; step <= iterations; ++step) {
        const double inv_eta_step = 1.0 / (eta * step);
        const double denominator = lambda + inv_eta_step;
        for (size_t i = 0; i < n; ++i) {
            if (!is_finite(lp[i])) {
                iterate[i] = kNegInfD;
                continue;
            }
            const double lb = static_cast<double>(base[i]) - base_lse;
            utility[i] += alpha * (policy[i] - lb);
            iterate[i] = (lambda * lp[i] + utility[i] / step + policy[i] * inv_eta_step) / denominator;
        }
        // M_i = log_softmax(L_i); on the last step L_K itself is the output logit.
        const double lse = log_sum_exp(iterate, n);
        double * target = step == iterations ? out_log_p : policy;
        for (size_t i = 0; i < n; ++i) target[i] = is_finite(iterate[i]) ? iterate[i] - lse : kNegInfD;
    }
}

double kl_divergence(const float * realigned, float realigned_lse, const float * base, float base_lse, size_t n) {
    double kl = 0.0;
#pragma omp simd reduction(+ : kl)
    for (size_t i = 0; i < n; ++i) {
        const float lr = realigned[i] - realigned_lse;
        const float lb = base[i] - base_lse;
        const bool counts = is_finite(lr) && is_finite(lb);
        kl += counts ? exp_non_positive(std::min(lr, 0.0f)) * (lr - lb) : 0.0f;
    }
    return std::max(0.0, kl);  // exact KL is >= 0; rounding can dip a hair below
}

}  // namespace amulet
