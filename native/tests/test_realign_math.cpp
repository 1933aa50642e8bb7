// realign_math against float64 references written here from docs/algorithm.md, on
// rows shaped like a model's and on the edge cases: non-finite logits, ties,
// rows shorter and longer than one reduction block, negative coefficients.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <vector>

#include "check.h"
#include "sampler/realign_math.h"
#include "sampler/realign_params.h"
#include "suites.h"

namespace amulet::tests {

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
// Lengths around the 1024-entry reduction block, and the fixture models' vocabularies.
constexpr size_t kLengths[] = {1, 5, 1023, 1024, 1025, 3001, 49152, 262144};

using Row = std::vector<float>;

/** Logits like a model's: normal around a negative mean, a few dozen far above. */
Row model_like_row(size_t n, uint32_t seed) {
    std::mt19937 random(seed);
    std::normal_distribution<float> bulk(-4.0f, 2.5f);
    std::uniform_real_distribution<float> top(8.0f, 22.0f);
    std::uniform_int_distribution<size_t> index(0, n - 1);
    Row z(n);
    for (float & v : z) v = bulk(random);
    for (size_t k = 0; k < std::min<size_t>(40, n / 4); ++k) z[index(random)] = top(random);
    return z;
}

double reference_lse(const Row & z) {
    double m = -INFINITY;
    for (float v : z) {
        if (std::isfinite(v)) m = std::max(m, static_cast<double>(v));
    }
    if (!std::isfinite(m)) return -INFINITY;
    double sum = 0.0;
    for (float v : z) {
        if (std::isfinite(v)) sum += std::exp(static_cast<double>(v) - m);
    }
    return m + std::log(sum);
}

// Float32 log-sum-exp of values up to ~25: a few ulp of the result, and the
// float block sums' relative error (< 1e-5) as an absolute one.
constexpr double kLseTolerance = 3e-5;

void log_sum_exp_matches_float64() {
    for (size_t n : kLengths) {
        const Row z = model_like_row(n, static_cast<uint32_t>(n));
        EXPECT_NEAR(log_sum_exp(z.data(), n), reference_lse(z), kLseTolerance);
    }
    // The running max rises in a later block: the sum so far is rescaled.
    Row rising(5000);
    for (size_t i = 0; i < rising.size(); ++i) rising[i] = static_cast<float>(i) * 0.01f - 30.0f;
    EXPECT_NEAR(log_sum_exp(rising.data(), rising.size()), reference_lse(rising), kLseTolerance);
    Row jump(4096, -50.0f);
    jump[4000] = 30.0f;
    EXPECT_NEAR(log_sum_exp(jump.data(), jump.size()), reference_lse(jump), kLseTolerance);
}

void log_sum_exp_skips_non_finite_entries() {
    const Row mixed = {1.0f, -kInf, kNaN, kInf, 2.0f};
    EXPECT_NEAR(log_sum_exp(mixed.data(), mixed.size()), std::log(std::exp(1.0) + std::exp(2.0)), 1e-6);
    const Row none = {-kInf, kNaN, kInf};
    EXPECT(log_sum_exp(none.data(), none.size()) == -kInf);
    EXPECT(log_sum_exp(none.data(), 0) == -kInf);
    Row one(3000, -kInf);
    one[2999] = 7.5f;
    EXPECT_NEAR(log_sum_exp(one.data(), one.size()), 7.5, 1e-6);
    // Entries 100 below the max underflow to 0 in float: the result is the max's own term.
    const Row far = {0.0f, -100.0f, -200.0f};
    EXPECT_NEAR(log_sum_exp(far.data(), far.size()), 0.0, 1e-6);
}

void log_softmax_normalises_in_place_and_apart() {
    Row z = model_like_row(3001, 11);
    z[5] = -kInf;
    z[6] = kNaN;
    z[7] = kInf;
    const double lse = reference_lse(z);
    Row out(z.size());
    log_softmax(z.data(), z.size(), out.data());
    for (size_t i = 0; i < z.size(); ++i) {
        if (std::isfinite(z[i])) {
            EXPECT_NEAR(out[i], z[i] - lse, kLseTolerance);
        } else {
            EXPECT(out[i] == -kInf);
        }
    }
    Row in_place = z;
    log_softmax(in_place.data(), in_place.size(), in_place.data());
    bool same = true;
    for (size_t i = 0; i < z.size(); ++i) same = same && (in_place[i] == out[i]);
    EXPECT(same);
}

void arg_max_takes_the_first_largest_finite_entry() {
    const Row ties = {1.0f, 3.0f, 3.0f, 2.0f};
    EXPECT(arg_max(ties.data(), ties.size()) == 1);
    const Row non_finite = {-kInf, kNaN, kInf, 2.0f, 2.0f};
    EXPECT(arg_max(non_finite.data(), non_finite.size()) == 3);
    const Row nothing = {-kInf, kNaN, kInf};
    EXPECT(arg_max(nothing.data(), nothing.size()) == -1);
    EXPECT(arg_max(nothing.data(), 0) == -1);
    const Row largest = {FLT_MAX, kInf, 0.0f};
    EXPECT(arg_max(largest.data(), largest.size()) == 0);
    // A tie across blocks goes to the first block; the last entry of a partial block counts.
    Row across(3001, 0.0f);
    across[2500] = 5.0f;
    across[100] = 5.0f;
    EXPECT(arg_max(across.data(), across.size()) == 100);
    Row last(3001, 0.0f);
    last[3000] = 1.0f;
    EXPECT(arg_max(last.data(), last.size()) == 3000);
    for (size_t n : kLengths) {
        const Row z = model_like_row(n, static_cast<uint32_t>(n) + 1);
        size_t expected = 0;
        for (size_t i = 1; i < n; ++i) {
            if (z[i] > z[expected]) expected = i;
        }
        EXPECT(arg_max(z.data(), n) == static_cast<int32_t>(expected));
    }
}

/**
 * combine_log_probs against sum_k c_k (z_k - lse_k) in float64, with the
 * float lse the sampler passes; without lse, the same row shifted by
 * sum_k c_k lse_k. Every entry with a non-finite logit in some row is -inf.
 */
void check_combine(const std::vector<Row> & rows, const std::vector<float> & coef) {
    const size_t n = rows[0].size();
    const size_t n_rows = rows.size();
    std::vector<const float *> pointers;
    std::vector<float> lse;
    double shift = 0.0;
    for (size_t k = 0; k < n_rows; ++k) {
        pointers.push_back(rows[k].data());
        lse.push_back(log_sum_exp(rows[k].data(), n));
        shift += static_cast<double>(coef[k]) * lse[k];
    }
    Row exact(n), shifted(n);
    const float exact_top = combine_log_probs(pointers.data(), lse.data(), coef.data(), n_rows, n, exact.data());
    const float shifted_top = combine_log_probs(pointers.data(), nullptr, coef.data(), n_rows, n, shifted.data());

    double top = -INFINITY;
    bool exact_ok = true, shifted_ok = true, impossible_ok = true;
    for (size_t i = 0; i < n; ++i) {
        bool possible = true;
        double expected = 0.0, magnitude = std::fabs(shift);
        for (size_t k = 0; k < n_rows; ++k) {
            possible = possible && std::isfinite(rows[k][i]);
            expected += static_cast<double>(coef[k]) * (static_cast<double>(rows[k][i]) - lse[k]);
            magnitude += std::fabs(static_cast<double>(coef[k]) * rows[k][i]);
        }
        if (!possible) {
            impossible_ok = impossible_ok && exact[i] == -kInf && shifted[i] == -kInf;
            continue;
        }
        // A few float roundings of the largest term.
        const double tolerance = 8.0 * FLT_EPSILON * magnitude;
        exact_ok = exact_ok && std::fabs(exact[i] - expected) <= tolerance;
        shifted_ok = shifted_ok && std::fabs(shifted[i] - (expected + shift)) <= tolerance;
        top = std::max(top, static_cast<double>(exact[i]));
    }
    EXPECT(exact_ok);
    EXPECT(shifted_ok);
    EXPECT(impossible_ok);
    EXPECT(exact_top == static_cast<float>(top));
    float shifted_max = -kInf;
    for (float v : shifted) shifted_max = std::max(shifted_max, v);
    EXPECT(shifted_top == shifted_max);
    // The greedy pick without a row in memory: the same token as arg_max of the row.
    EXPECT(combine_arg_max(pointers.data(), coef.data(), n_rows, n) == arg_max(shifted.data(), n));
}

void combine_matches_float64_with_non_finite_logits() {
    const double a = amulet_preference_scale(2.0, 2.0, 10.0, 60);
    const std::vector<float> amulet = {static_cast<float>(1.0 - a), static_cast<float>(a)};  // c_base < 0
    for (size_t n : kLengths) {
        std::vector<Row> rows = {model_like_row(n, 21 + static_cast<uint32_t>(n)),
                                 model_like_row(n, 22 + static_cast<uint32_t>(n))};
        if (n > 8) {
            rows[0][1] = -kInf;  // a negative c_base would make this +inf
            rows[1][2] = -kInf;
            rows[0][3] = kInf;
            rows[1][3] = -kInf;  // inf - inf
            rows[0][4] = kNaN;
            rows[1][n - 1] = kNaN;
        }
        check_combine(rows, amulet);
    }
    // Two preferences, one avoided: l = l_b + a (l_1 - l_b) - 0.5 a (l_2 - l_b).
    const size_t n = 3001;
    std::vector<Row> three = {model_like_row(n, 31), model_like_row(n, 32), model_like_row(n, 33)};
    three[2][10] = -kInf;
    three[1][11] = kInf;
    check_combine(three, {static_cast<float>(1.0 - 0.5 * a), static_cast<float>(a), static_cast<float>(-0.5 * a)});
    check_combine({model_like_row(n, 34)}, {1.0f});

    // No token finite in every row: all -inf and a -inf maximum, never NaN.
    const Row left = {1.0f, -kInf, kNaN};
    const Row right = {-kInf, 2.0f, 3.0f};
    const float * pointers[] = {left.data(), right.data()};
    Row out(3);
    EXPECT(combine_log_probs(pointers, nullptr, amulet.data(), 2, 3, out.data()) == -kInf);
    EXPECT(out[0] == -kInf && out[1] == -kInf && out[2] == -kInf);
    EXPECT(combine_arg_max(pointers, amulet.data(), 2, 3) == -1);
}

void combine_arg_max_takes_the_first_of_a_tie() {
    // Equal realigned values in the third and the first block: the first block's.
    Row base(3001, 0.0f), pref(3001, 0.0f);
    pref[2500] = 1.0f;
    pref[700] = 1.0f;
    base[10] = -kInf;  // with c_base < 0, +inf unless it is made -inf
    const float * rows[] = {base.data(), pref.data()};
    const float coef[] = {-4.0f, 5.0f};
    EXPECT(combine_arg_max(rows, coef, 2, base.size()) == 700);
}

double reference_kl(const Row & realigned, const Row & base) {
    const double lse_r = reference_lse(realigned);
    const double lse_b = reference_lse(base);
    double kl = 0.0;
    for (size_t i = 0; i < realigned.size(); ++i) {
        if (!std::isfinite(realigned[i]) || !std::isfinite(base[i])) continue;
        const double lr = realigned[i] - lse_r;
        kl += std::exp(lr) * (lr - (base[i] - lse_b));
    }
    return kl;
}

void kl_is_non_negative_and_matches_float64() {
    for (size_t n : kLengths) {
        const Row base = model_like_row(n, 41 + static_cast<uint32_t>(n));
        const float base_lse = log_sum_exp(base.data(), n);
        const double self = kl_divergence(base.data(), base_lse, base.data(), base_lse, n);
        EXPECT(self >= 0.0);
        EXPECT_NEAR(self, 0.0, 1e-6);
        for (uint32_t seed = 0; seed < 3; ++seed) {
            Row realigned = model_like_row(n, 42 + seed + static_cast<uint32_t>(n));
            if (n > 2) realigned[1] = -kInf;
            const float realigned_lse = log_sum_exp(realigned.data(), n);
            const double kl = kl_divergence(realigned.data(), realigned_lse, base.data(), base_lse, n);
            const double expected = reference_kl(realigned, base);
            EXPECT(kl >= 0.0);
            EXPECT_NEAR(kl, expected, 1e-4 * std::max(1.0, expected));
        }
    }
}

/**
 * The paper's literal K-step loop equals the collapsed closed form with the
 * scale a_K (docs/algorithm.md): to float64 rounding against the float64 collapse,
 * and to float32 rounding against combine_log_probs + log_softmax.
 */
void literal_loop_equals_collapsed_scale() {
    const size_t n = 2000;
    Row base = model_like_row(n, 51);
    Row pref = model_like_row(n, 52);
    base[3] = -kInf;
    pref[4] = -kInf;
    pref[5] = kNaN;
    const float base_lse = log_sum_exp(base.data(), n);
    const float pref_lse = log_sum_exp(pref.data(), n);
    std::vector<double> policy(n), utility(n), iterate(n), pref_log_p(n), literal(n);
    const IterativeScratch scratch{policy.data(), utility.data(), iterate.data(), pref_log_p.data()};
    for (int32_t iterations : {1, 10, 60}) {
        amulet_literal_loop(base.data(), base_lse, pref.data(), pref_lse, 2.0, 2.0, 10.0, iterations, n, scratch,
                            literal.data());
        const double a = amulet_preference_scale(2.0, 2.0, 10.0, iterations);

        std::vector<double> collapsed(n);
        double m = -INFINITY;
        for (size_t i = 0; i < n; ++i) {
            const bool possible = std::isfinite(base[i]) && std::isfinite(pref[i]);
            const double lp = static_cast<double>(pref[i]) - pref_lse;
            const double lb = static_cast<double>(base[i]) - base_lse;
            collapsed[i] = possible ? a * lp + (1.0 - a) * lb : -INFINITY;
            m = std::max(m, collapsed[i]);
        }
        double sum = 0.0;
        for (double v : collapsed) sum += std::isfinite(v) ? std::exp(v - m) : 0.0;
        const double lse = m + std::log(sum);

        const float * rows[] = {base.data(), pref.data()};
        const float lses[] = {base_lse, pref_lse};
        const float coef[] = {static_cast<float>(1.0 - a), static_cast<float>(a)};
        Row combined(n);
        combine_log_probs(rows, lses, coef, 2, n, combined.data());
        log_softmax(combined.data(), n, combined.data());

        bool float64_ok = true, float32_ok = true, impossible_ok = true;
        for (size_t i = 0; i < n; ++i) {
            if (!std::isfinite(collapsed[i])) {
                impossible_ok = impossible_ok && literal[i] == -INFINITY && combined[i] == -kInf;
                continue;
            }
            float64_ok = float64_ok && std::fabs(literal[i] - (collapsed[i] - lse)) <= 1e-9;
            // Tokens with any mass: float32 logits times a_K, and a float log-sum-exp.
            if (literal[i] > -30.0) float32_ok = float32_ok && std::fabs(literal[i] - combined[i]) <= 1e-4;
        }
        EXPECT(float64_ok);
        EXPECT(float32_ok);
        EXPECT(impossible_ok);
    }
}

/** KL(softmax(A + s D) || softmax(A)) in float64 over the entries finite in A. */
double reference_guidance_kl(const Row & anchor, const Row & direction, double s) {
    const size_t n = anchor.size();
    std::vector<double> from(n), to(n);
    for (size_t i = 0; i < n; ++i) {
        const bool possible = std::isfinite(anchor[i]);
        from[i] = possible ? anchor[i] : -INFINITY;
        to[i] = possible ? anchor[i] + s * direction[i] : -INFINITY;
    }
    const auto normalise = [](std::vector<double> & x) {
        double m = -INFINITY;
        for (double v : x) m = std::max(m, v);
        double sum = 0.0;
        for (double v : x) sum += std::isfinite(v) ? std::exp(v - m) : 0.0;
        for (double & v : x) v -= m + std::log(sum);
    };
    normalise(from);
    normalise(to);
    double kl = 0.0;
    for (size_t i = 0; i < n; ++i) {
        if (std::isfinite(to[i])) kl += std::exp(to[i]) * (to[i] - from[i]);
    }
    return kl;
}

/**
 * kl_budgeted_scale against float64 on model-like rows with impossible
 * tokens: a capped scale puts the KL on the budget, an uncapped one within
 * it; a loose budget, no budget, and rows that agree keep the scale.
 */
void kl_budget_finds_the_scale() {
    const double scale = 4.6487;
    for (size_t n : kLengths) {
        Row base = model_like_row(n, 61 + static_cast<uint32_t>(n));
        Row pref = model_like_row(n, 62 + static_cast<uint32_t>(n));
        if (n > 3) {
            base[1] = -kInf;
            pref[2] = kNaN;
        }
        const float * rows[] = {base.data(), pref.data()};
        const float anchor_coef[] = {0.0f, 1.0f};
        const float direction_coef[] = {-1.0f, 1.0f};
        Row anchor(n), direction(n);
        combine_log_probs(rows, nullptr, anchor_coef, 2, n, anchor.data());
        combine_log_probs(rows, nullptr, direction_coef, 2, n, direction.data());
        // The function reorders its rows: each call gets copies.
        const auto budgeted = [&](double budget) {
            Row a = anchor, d = direction;
            return kl_budgeted_scale(a.data(), d.data(), n, scale, budget);
        };
        for (double budget : {0.05, 0.5, 2.0}) {
            const double s = budgeted(budget);
            const double kl = reference_guidance_kl(anchor, direction, s);
            EXPECT(s >= 0.0 && s <= scale);
            if (s < scale) {
                EXPECT_NEAR(kl, budget, 1e-4);
            } else {
                EXPECT(kl <= budget + 1e-4);
            }
        }
        EXPECT(budgeted(0.0) == scale);
        EXPECT(budgeted(1e9) == scale);
    }
    // The prompts agree up to a constant (D is that constant): no KL at any scale.
    Row base = model_like_row(3001, 71);
    Row constant(base.size(), 3.0f);
    EXPECT(kl_budgeted_scale(base.data(), constant.data(), base.size(), scale, 0.1) == scale);
    // No possible token: nothing to cap.
    Row none(8, -kInf), none_direction(8, -kInf);
    EXPECT(kl_budgeted_scale(none.data(), none_direction.data(), none.size(), scale, 0.1) == scale);
}

// The echo guard against float64: l_b + sum_j d_j + s sum_j (v in set j ? min(0, d_j) : d_j), with
// d_j = w_j (l_j - l_b), on a combined row; tokens outside every set unchanged, -inf kept.
void echo_guard_clips_each_preference_push() {
    const size_t n = 3001;
    std::vector<Row> rows = {model_like_row(n, 21), model_like_row(n, 22), model_like_row(n, 23)};
    rows[1][7] = -kInf;
    const std::vector<float> weights = {1.0f, -0.5f};
    const float s = 4.6487f;
    std::vector<float> coef = {1.0f - (1.0f + s) * 0.5f, (1.0f + s) * weights[0], (1.0f + s) * weights[1]};
    std::vector<const float *> pointers;
    std::vector<float> lse;
    for (const Row & row : rows) {
        pointers.push_back(row.data());
        lse.push_back(log_sum_exp(row.data(), n));
    }
    // Every token of the first rows, so that both signs of the push occur, and some shared by both sets.
    std::vector<int32_t> first, second;
    for (int32_t v = 0; v < 200; ++v) first.push_back(v);
    for (int32_t v = 150; v < 400; v += 3) second.push_back(v);
    const GuardedTokens sets[] = {{first.data(), first.size()}, {second.data(), second.size()}};
    Row out(n);
    combine_log_probs(pointers.data(), lse.data(), coef.data(), rows.size(), n, out.data());
    const Row unguarded = out;
    apply_echo_guard(pointers.data(), lse.data(), weights.data(), sets, 2, s, out.data());
    bool ok = true, clipped_some = false;
    for (size_t v = 0; v < n; ++v) {
        const double lb = rows[0][v] - static_cast<double>(lse[0]);
        double expected = lb;
        bool possible = std::isfinite(rows[0][v]);
        for (size_t j = 0; j < 2; ++j) {
            possible = possible && std::isfinite(rows[j + 1][v]);
            const double d = weights[j] * ((rows[j + 1][v] - static_cast<double>(lse[j + 1])) - lb);
            const std::vector<int32_t> & set = j == 0 ? first : second;
            const bool in_set = std::find(set.begin(), set.end(), static_cast<int32_t>(v)) != set.end();
            expected += d + s * (in_set ? std::min(0.0, d) : d);
            clipped_some = clipped_some || (in_set && d > 0);
        }
        if (!possible) {
            ok = ok && out[v] == -kInf;
            continue;
        }
        ok = ok && std::fabs(out[v] - expected) <= 2e-4 * std::max(1.0, std::fabs(expected));
        ok = ok && out[v] <= unguarded[v];
    }
    EXPECT(ok);
    EXPECT(clipped_some);
}

}  // namespace

void realign_math_tests() {
    log_sum_exp_matches_float64();
    log_sum_exp_skips_non_finite_entries();
    log_softmax_normalises_in_place_and_apart();
    arg_max_takes_the_first_largest_finite_entry();
    combine_matches_float64_with_non_finite_logits();
    combine_arg_max_takes_the_first_of_a_tie();
    kl_is_non_negative_and_matches_float64();
    literal_loop_equals_collapsed_scale();
    kl_budget_finds_the_scale();
    echo_guard_clips_each_preference_push();
}

}  // namespace amulet::tests
