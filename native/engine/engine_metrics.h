// What a context's decode thread has done and is doing, for monitoring
// (the server's /metrics): counters since the context was made, the load
// now, and the time of each decode step as a histogram.
#pragma once

#include <array>
#include <cstdint>

namespace amulet {

struct EngineMetrics {
    /** Upper bounds of the step-time histogram's buckets, in seconds (the last bucket, +Inf, is implied). */
    static constexpr std::array<double, 12> kStepBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                            0.5,   1.0,  2.5,   5.0,  10.0, 30.0};

    uint64_t generations_started = 0;
    uint64_t generations_finished = 0;  // however they ended
    uint64_t generations_failed = 0;
    uint64_t generated_tokens = 0;
    uint64_t evaluated_tokens = 0;  // prompt tokens decoded
    uint64_t steps = 0;
    uint64_t evictions = 0;  // idle sequences whose cache was dropped to make room

    int32_t running = 0;  // generations in the decode loop
    int32_t waiting = 0;  // generations waiting for sequences
    int32_t sequences = 0;
    int32_t busy_sequences = 0;
    uint64_t cells = 0;       // KV cells of the context
    uint64_t kv_tokens = 0;   // tokens its sequences hold, summed (a shared prefix counted per sequence)

    std::array<uint64_t, kStepBuckets.size() + 1> step_counts{};  // per bucket, not cumulative; last: +Inf
    double step_seconds = 0;  // sum over the steps
};

}  // namespace amulet
