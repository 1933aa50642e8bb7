// realign_params: the collapsed scale a_K (docs/algorithm.md's values), the
// coefficients of each method, and the validation native callers rely on.
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.h"
#include "sampler/realign_params.h"
#include "suites.h"

namespace amulet::tests {

namespace {

void scale_matches_the_algorithm_notes() {
    // alpha = lambda = 2, eta = 10: a_1, a_10 and a_60 as docs/algorithm.md lists them.
    EXPECT_NEAR(amulet_preference_scale(2.0, 2.0, 10.0, 1), 1.9524, 5e-5);
    EXPECT_NEAR(amulet_preference_scale(2.0, 2.0, 10.0, 10), 3.8976, 5e-5);
    EXPECT_NEAR(amulet_preference_scale(2.0, 2.0, 10.0, 60), 5.6487, 5e-5);
    // alpha < lambda: a_K rises towards lambda / (lambda - alpha) = 2 and stays below it.
    const double early = amulet_preference_scale(1.0, 2.0, 10.0, 100);
    const double late = amulet_preference_scale(1.0, 2.0, 10.0, 10000);
    EXPECT(early < late && late < 2.0 && late > 1.99);
}

void coefficients_follow_the_method() {
    RealignParams params;
    params.weights = {1.0, -0.5};
    const double a = amulet_preference_scale(2.0, 2.0, 10.0, 60);
    std::vector<double> c = preference_coefficients(params);
    EXPECT(c.size() == 2);
    EXPECT_NEAR(c[0], a, 1e-12);
    EXPECT_NEAR(c[1], -0.5 * a, 1e-12);
    EXPECT_NEAR(guidance_scale(params), a - 1.0, 1e-12);

    params.method = RealignMethod::LinearAlignment;
    params.ratio = 2.0;
    EXPECT_NEAR(preference_coefficients(params)[0], 3.0, 1e-12);
    EXPECT_NEAR(guidance_scale(params), 2.0, 1e-12);

    // The literal loop's iterates already carry a_K: its coefficient is the weight.
    params.method = RealignMethod::AmuletIterative;
    EXPECT_NEAR(preference_coefficients(params)[1], -0.5, 1e-12);
    EXPECT_NEAR(guidance_scale(params), a - 1.0, 1e-12);

    params.method = RealignMethod::Pref;
    EXPECT_NEAR(preference_coefficients(params)[0], 1.0, 1e-12);
    params.method = RealignMethod::Base;
    EXPECT_NEAR(preference_coefficients(params)[0], 0.0, 1e-12);
    EXPECT_NEAR(guidance_scale(params), -1.0, 1e-12);
}

void guidance_terms_give_the_coefficients() {
    RealignParams params;
    params.weights = {1.0, -0.5};
    const GuidanceTerms terms = guidance_terms(params);
    const double s = guidance_scale(params);
    const std::vector<double> c = preference_coefficients(params);
    for (size_t j = 0; j < c.size(); ++j) EXPECT_NEAR(terms.anchor[j + 1] + s * terms.direction[j + 1], c[j], 1e-12);
    // Base: 1 - sum of the others, at every scale.
    EXPECT_NEAR(terms.anchor[0] + s * terms.direction[0], 1.0 - c[0] - c[1], 1e-12);
    EXPECT_NEAR(terms.anchor[0] + terms.anchor[1] + terms.anchor[2], 1.0, 1e-12);
    EXPECT_NEAR(terms.direction[0] + terms.direction[1] + terms.direction[2], 0.0, 1e-12);
}

void method_names_round_trip() {
    for (const char * name : {"base", "pref", "amulet", "amulet-iterative", "la"}) {
        EXPECT(std::string(realign_method_name(parse_realign_method(name))) == name);
    }
    EXPECT(throws<std::invalid_argument>([] { parse_realign_method("Amulet"); }));
}

void validation_names_the_field() {
    RealignParams valid;
    valid.weights = {1.0};
    EXPECT(!throws<std::exception>([&] { valid.validate(); }));

    const double nan = std::numeric_limits<double>::quiet_NaN();
    const auto rejects = [&](void (*change)(RealignParams &, double), double value, const char * field) {
        RealignParams params = valid;
        change(params, value);
        try {
            params.validate();
        } catch (const std::invalid_argument & error) {
            return std::string(error.what()).find(field) != std::string::npos;
        }
        return false;
    };
    const auto alpha = [](RealignParams & p, double v) { p.alpha = v; };
    const auto lambda = [](RealignParams & p, double v) { p.lambda = v; };
    const auto eta = [](RealignParams & p, double v) { p.eta = v; };
    const auto iterations = [](RealignParams & p, double v) { p.iterations = static_cast<int32_t>(v); };
    const auto ratio = [](RealignParams & p, double v) { p.ratio = v; };
    const auto weight = [](RealignParams & p, double v) { p.weights = {v}; };
    const auto budget = [](RealignParams & p, double v) { p.kl_budget = v; };
    EXPECT(rejects(alpha, 0.0, "alpha"));
    EXPECT(rejects(alpha, nan, "alpha"));
    EXPECT(rejects(lambda, -1.0, "lambda"));
    EXPECT(rejects(eta, 0.0, "eta"));
    EXPECT(rejects(iterations, 0, "iterations"));
    EXPECT(rejects(iterations, 10001, "iterations"));
    EXPECT(rejects(ratio, -0.5, "ratio"));
    EXPECT(rejects(weight, nan, "weight"));
    EXPECT(rejects(budget, -0.1, "klBudget"));
    EXPECT(rejects(budget, nan, "klBudget"));
    // The literal loop has no single scale to cap.
    const auto iterative_budget = [](RealignParams & p, double v) {
        p.method = RealignMethod::AmuletIterative;
        p.kl_budget = v;
    };
    EXPECT(rejects(iterative_budget, 0.5, "klBudget"));
    // A coefficient beyond 1e6 would overflow float32 logits.
    EXPECT(rejects(weight, 1e6, "coefficient"));
}

}  // namespace

void realign_params_tests() {
    scale_matches_the_algorithm_notes();
    coefficients_follow_the_method();
    guidance_terms_give_the_coefficients();
    method_names_round_trip();
    validation_names_the_field();
}

}  // namespace amulet::tests
