// Configuration of the realignment: which method, its hyperparameters, and the
// per-preference weights. Pure C++ (no llama.h). The TypeScript layer checks
// user input against the rules table (lib/option-rules.ts); validate() keeps
// only what the arithmetic here relies on.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace amulet {

enum class RealignMethod {
    Base,             // the prompt without any preference
    Pref,             // the prompt with the preference texts only
    Amulet,           // the paper's online-learning update, collapsed to a guidance scale
    AmuletIterative,  // the paper's literal K-iteration loop (research mode, same distribution)
    LinearAlignment,  // the paper's LA baseline: z_p + r (z_p - z_b) on raw logits
};

/** Parses "base" | "pref" | "amulet" | "amulet-iterative" | "la"; throws std::invalid_argument. */
RealignMethod parse_realign_method(const std::string & name);
const char * realign_method_name(RealignMethod method);

// The member defaults are the paper's values. The library always passes every
// field, from its own defaults (lib/option-rules.ts), which differ in alpha.
struct RealignParams {
    RealignMethod method = RealignMethod::Amulet;
    double alpha = 2.0;      // reward scale
    double lambda = 2.0;     // weight of the proximal term towards the preference policy
    double eta = 10.0;       // learning rate
    int32_t iterations = 60; // K
    double ratio = 2.0;      // LA's r
    // The plausibility constraint tau in [0, 1] (0: off, the paper's behaviour):
    // a token stays only if the gate row gives it at least tau times that row's
    // top probability (see plausibility_gate_row). Realigning methods only.
    double plausibility = 0.0;
    // A per-token budget, in nats, on KL(realigned || the realignment at
    // scale 0) (with one preference: the preference prompt's distribution);
    // 0 is off, the paper's behaviour. See kl_budgeted_scale. Closed-form
    // methods only.
    double kl_budget = 0.0;
    // The echo guard (false: off, the paper's update): a token of preference
    // j's own text gets no positive push from that preference's contrast,
    // l_A(v) + s * min(0, w_j (l_j(v) - l_b(v))) (see apply_echo_guard).
    // Closed-form methods only.
    bool echo_guard = false;
    std::vector<double> weights;  // one per preference sequence; negative means "avoid"
    // With echo_guard: the token ids of each preference's text, one set per
    // weight, sorted and without repeats (engine/echo_guard_tokens.h builds them).
    std::vector<std::vector<int32_t>> guard_tokens;

    /**
     * Throws std::invalid_argument naming the offending field: positive finite
     * hyperparameters, at least one iteration, finite weights, and
     * coefficients small enough for float32 logits; guard token sets, when
     * given, one per weight.
     */
    void validate() const;
};

/**
 * a_K of the collapsed FTRL loop: the loop's K-th iterate equals
 * a_K * l_p + (1 - a_K) * l_b + const, so Amulet is guidance with scale a_K - 1.
 * O(K) scalar work, done once per configuration.
 */
double amulet_preference_scale(double alpha, double lambda, double eta, int32_t iterations);

/**
 * The coefficient c_j of preference j in  l = l_b + sum_j c_j (l_j - l_b):
 * a_K * w_j for Amulet, (1 + r) * w_j for LA, w_j for the literal loop (whose
 * iterates already carry a_K), 1 for Pref, 0 for Base.
 */
std::vector<double> preference_coefficients(const RealignParams & params);

/**
 * The realignment as  l = sum_k (anchor[k] + s * direction[k]) z_k  in
 * [base, pref_1 .. pref_n] order: anchor is the mix at scale 0 (w_j for
 * preference j, 1 - sum w for the base), direction what the scale multiplies
 * (w_j, and -sum w for the base). With s = guidance_scale(params) these are
 * the coefficients of preference_coefficients.
 */
struct GuidanceTerms {
    std::vector<double> anchor;
    std::vector<double> direction;
};
GuidanceTerms guidance_terms(const RealignParams & params);

/** The effective guidance scale s = a - 1 reported to users (a = a_K, 1 + r, 1 or 0). */
double guidance_scale(const RealignParams & params);

/**
 * The row the plausibility constraint reads, in [base, pref_1 .. pref_n]
 * order: the first preference with a positive weight (the distribution the
 * realignment extrapolates toward), else the base row (when every
 * preference is avoided or has weight 0, the result leans on the base).
 * -1 when the constraint is off: plausibility 0, or a method that does not
 * realign.
 */
int32_t plausibility_gate_row(const RealignParams & params);

}  // namespace amulet
