#include "sampler/realign_params.h"

#include <cmath>
#include <stdexcept>

namespace amulet {

namespace {

struct MethodName {
    RealignMethod method;
    const char * name;
};

constexpr MethodName kMethodNames[] = {
    {RealignMethod::Base, "base"},
    {RealignMethod::Pref, "pref"},
    {RealignMethod::Amulet, "amulet"},
    {RealignMethod::AmuletIterative, "amulet-iterative"},
    {RealignMethod::LinearAlignment, "la"},
};

void require(bool condition, const std::string & message) {
    if (!condition) throw std::invalid_argument(message);
}

double base_scale(const RealignParams & params) {
    switch (params.method) {
        case RealignMethod::Amulet:
            return amulet_preference_scale(params.alpha, params.lambda, params.eta, params.iterations);
        case RealignMethod::LinearAlignment: return 1.0 + params.ratio;
        case RealignMethod::AmuletIterative:
        case RealignMethod::Pref: return 1.0;
        case RealignMethod::Base: return 0.0;
    }
    return 0.0;
}

}  // namespace

RealignMethod parse_realign_method(const std::string & name) {
    for (const auto & entry : kMethodNames) {
        if (name == entry.name) return entry.method;
    }
    throw std::invalid_argument("unknown method '" + name + "' (expected base, pref, amulet, amulet-iterative or la)");
}

const char * realign_method_name(RealignMethod method) {
    for (const auto & entry : kMethodNames) {
        if (entry.method == method) return entry.name;
    }
    return "unknown";
}

void RealignParams::validate() const {
    require(std::isfinite(alpha) && alpha > 0, "alpha must be a finite number > 0");
    require(std::isfinite(lambda) && lambda > 0, "lambda must be a finite number > 0");
    require(std::isfinite(eta) && eta > 0, "eta must be a finite number > 0");
    require(iterations >= 1 && iterations <= 10000, "iterations must be an integer in [1, 10000]");
    require(std::isfinite(ratio) && ratio >= 0, "ratio must be a finite number >= 0");
    require(plausibility >= 0 && plausibility <= 1, "plausibility must be a number in [0, 1]");
    require(std::isfinite(kl_budget) && kl_budget >= 0, "klBudget must be a finite number >= 0");
    require(kl_budget == 0 || method != RealignMethod::AmuletIterative,
            "klBudget applies to the closed-form methods (amulet, la), not to amulet-iterative");
    require(!echo_guard || method != RealignMethod::AmuletIterative,
            "echoGuard applies to the closed-form methods (amulet, la), not to amulet-iterative");
    require(guard_tokens.empty() || guard_tokens.size() == weights.size(), "one echo guard token set per preference");
    for (double weight : weights) require(std::isfinite(weight), "every preference weight must be finite");
    const double scale = guidance_scale(*this) + 1.0;
    require(std::isfinite(scale), "the hyperparameters give a non-finite guidance scale");
    // Beyond this, float32 logits times the coefficient overflow or lose all precision.
    constexpr double kMaxCoefficient = 1e6;
    double base = 1.0;
    for (double coefficient : preference_coefficients(*this)) {
        base -= coefficient;
        require(std::fabs(coefficient) <= kMaxCoefficient, "a preference coefficient exceeds 1e6: lower alpha, ratio or the weight");
    }
    require(std::fabs(base) <= kMaxCoefficient, "the base coefficient exceeds 1e6: lower alpha, ratio or the weights");
}

double amulet_preference_scale(double alpha, double lambda, double eta, int32_t iterations) {
    // a_0 = 1, S_i = S_{i-1} + a_{i-1},
    // a_i = (lambda + alpha S_i / i + a_{i-1} / (eta i)) / (lambda + 1 / (eta i))   (docs/algorithm.md)
    double a = 1.0;
    double s = 0.0;
    for (int32_t i = 1; i <= iterations; ++i) {
        s += a;
        const double inv_eta_i = 1.0 / (eta * i);
        a = (lambda + alpha * s / i + a * inv_eta_i) / (lambda + inv_eta_i);
    }
    return a;
}

std::vector<double> preference_coefficients(const RealignParams & params) {
    const double scale = base_scale(params);
    std::vector<double> coefficients;
    coefficients.reserve(params.weights.size());
    for (double weight : params.weights) coefficients.push_back(scale * weight);
    return coefficients;
}

GuidanceTerms guidance_terms(const RealignParams & params) {
    GuidanceTerms terms;
    double total = 0.0;
    terms.anchor.push_back(0.0);
    terms.direction.push_back(0.0);
    for (double weight : params.weights) {
        total += weight;
        terms.anchor.push_back(weight);
        terms.direction.push_back(weight);
    }
    terms.anchor[0] = 1.0 - total;
    terms.direction[0] = -total;
    return terms;
}

double guidance_scale(const RealignParams & params) {
    if (params.method == RealignMethod::AmuletIterative) {
        return amulet_preference_scale(params.alpha, params.lambda, params.eta, params.iterations) - 1.0;
    }
    return base_scale(params) - 1.0;
}

int32_t plausibility_gate_row(const RealignParams & params) {
    const bool realigns = params.method == RealignMethod::Amulet || params.method == RealignMethod::AmuletIterative ||
                          params.method == RealignMethod::LinearAlignment;
    if (!realigns || !(params.plausibility > 0)) return -1;
    for (size_t j = 0; j < params.weights.size(); ++j) {
        if (params.weights[j] > 0) return static_cast<int32_t>(j + 1);
    }
    return 0;
}

}  // namespace amulet
