// Micro-benchmark of the realignment math (native/sampler/realign_math.*):
// microseconds per vocabulary-sized row for the steps of one realigned token,
// on synthetic logit rows shaped like a model's. Linked against the same
// amulet_sampler_math library as the addon of its build folder, so it times
// the instruction set that addon runs (-march=native in build/, AVX2 in
// build-portable/). `npm run bench` builds and runs it; by hand:
//
//   cmake --build build --target amulet_bench_math && build/amulet_bench_math [--json]
//
// Each figure is the median over kSamples timed samples, each averaging
// enough calls to run for about kSampleSeconds.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "sampler/realign_math.h"
#include "sampler/realign_params.h"

namespace {

constexpr int kSamples = 15;
constexpr double kSampleSeconds = 0.002;
constexpr size_t kVocabSizes[] = {49152, 262144};  // SmolLM2, Gemma 3

/**
 * A base and a preference row like a small instruct model's: most logits
 * normal around a negative mean, a few dozen far above them (the plausible
 * next tokens), and the preference row the base row plus a perturbation that
 * moves some of the top entries.
 */
struct Rows {
    std::vector<float> base, pref, out;
};

Rows synthetic_rows(size_t n, uint32_t seed) {
    std::mt19937 random(seed);
    std::normal_distribution<float> bulk(-4.0f, 2.5f);
    std::normal_distribution<float> shift(0.0f, 0.6f);
    std::uniform_real_distribution<float> top(8.0f, 22.0f);
    std::uniform_int_distribution<size_t> index(0, n - 1);
    Rows rows{std::vector<float>(n), std::vector<float>(n), std::vector<float>(n)};
    for (size_t i = 0; i < n; ++i) rows.base[i] = bulk(random);
    for (int k = 0; k < 40; ++k) rows.base[index(random)] = top(random);
    for (size_t i = 0; i < n; ++i) rows.pref[i] = rows.base[i] + shift(random);
    for (int k = 0; k < 10; ++k) rows.pref[index(random)] = top(random);
    return rows;
}

// Keeps every timed call's result alive.
volatile float g_sink = 0.0f;

template <typename Call>
double median_us_per_call(Call && call) {
    using Clock = std::chrono::steady_clock;
    for (int i = 0; i < 3; ++i) call();  // warm the caches and the branch predictors
    // Calls per sample, from one timed call.
    const Clock::time_point probe = Clock::now();
    call();
    const double once = std::chrono::duration<double>(Clock::now() - probe).count();
    const int calls = std::max(1, static_cast<int>(kSampleSeconds / std::max(once, 1e-9)));
    std::vector<double> samples(kSamples);
    for (double & sample : samples) {
        const Clock::time_point start = Clock::now();
        for (int i = 0; i < calls; ++i) call();
        sample = std::chrono::duration<double, std::micro>(Clock::now() - start).count() / calls;
    }
    std::nth_element(samples.begin(), samples.begin() + kSamples / 2, samples.end());
    return samples[kSamples / 2];
}

struct Result {
    const char * name;
    size_t n_vocab;
    double us;
};

std::vector<Result> run(size_t n) {
    Rows rows = synthetic_rows(n, 2502u + static_cast<uint32_t>(n));
    const float * row_ptrs[] = {rows.base.data(), rows.pref.data()};
    // The paper's Amulet (alpha = lambda = 2, eta = 10, K = 60): c_pref = a_K, c_base = 1 - a_K.
    const auto a = static_cast<float>(amulet::amulet_preference_scale(2.0, 2.0, 10.0, 60));
    const float coef[] = {1.0f - a, a};
    float lse[2] = {0.0f, 0.0f};
    float * out = rows.out.data();

    std::vector<Result> results;
    results.push_back({"log_sum_exp", n, median_us_per_call([&] { g_sink = amulet::log_sum_exp(rows.base.data(), n); })});
    results.push_back({"combine", n, median_us_per_call([&] {
                           g_sink = amulet::combine_log_probs(row_ptrs, lse, coef, 2, n, out);
                       })});
    results.push_back({"arg_max", n, median_us_per_call([&] { g_sink = static_cast<float>(amulet::arg_max(out, n)); })});
    // The greedy realignment of one token as the sampler runs it: with the
    // rows' log-sum-exps and the realigned row written (as for a trace), and
    // without either (the plain greedy pick).
    results.push_back({"greedy_with_lse", n, median_us_per_call([&] {
                           for (size_t k = 0; k < 2; ++k) lse[k] = amulet::log_sum_exp(row_ptrs[k], n);
                           amulet::combine_log_probs(row_ptrs, lse, coef, 2, n, out);
                           g_sink = static_cast<float>(amulet::arg_max(out, n));
                       })});
    results.push_back({"greedy_without_lse", n, median_us_per_call([&] {
                           g_sink = static_cast<float>(amulet::combine_arg_max(row_ptrs, coef, 2, n));
                       })});
    // The same pick under a KL budget of 0.3 nats: the scale-0 row and the
    // direction formed, the token's scale found, then the pick.
    std::vector<float> anchor_row(n), direction_row(n);
    const float anchor[] = {0.0f, 1.0f};
    const float direction[] = {-1.0f, 1.0f};
    results.push_back({"greedy_with_kl_budget", n, median_us_per_call([&] {
                           amulet::combine_log_probs(row_ptrs, nullptr, anchor, 2, n, anchor_row.data());
                           amulet::combine_log_probs(row_ptrs, nullptr, direction, 2, n, direction_row.data());
                           const auto s = static_cast<float>(
                               amulet::kl_budgeted_scale(anchor_row.data(), direction_row.data(), n, a - 1.0f, 0.3));
                           const float budgeted[] = {-s, 1.0f + s};
                           g_sink = static_cast<float>(amulet::combine_arg_max(row_ptrs, budgeted, 2, n));
                       })});
    return results;
}

}  // namespace

int main(int argc, char ** argv) {
    const bool json = argc > 1 && std::strcmp(argv[1], "--json") == 0;
    if (argc > 2 || (argc == 2 && !json)) {
        std::fprintf(stderr, "usage: %s [--json]\n", argv[0]);
        return 2;
    }
    std::vector<Result> results;
    for (const size_t n : kVocabSizes) {
        for (const Result & result : run(n)) results.push_back(result);
    }
    if (json) {
        // One line: {"samples": .., "results": [{"name", "nVocab", "usPerRow"}, ...]}
        std::printf("{\"samples\":%d,\"results\":[", kSamples);
        for (size_t i = 0; i < results.size(); ++i) {
            std::printf("%s{\"name\":\"%s\",\"nVocab\":%zu,\"usPerRow\":%.3f}", i > 0 ? "," : "", results[i].name,
                        results[i].n_vocab, results[i].us);
        }
        std::printf("]}\n");
        return 0;
    }
    std::printf("%-20s %10s %12s\n", "step", "n_vocab", "us/row");
    for (const Result & result : results) {
        std::printf("%-20s %10zu %12.2f\n", result.name, result.n_vocab, result.us);
    }
    return 0;
}
