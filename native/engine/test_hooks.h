// Failures and diagnostics provoked on purpose, for tests of the error paths
// and for the benchmark's engine ceiling. Compiled only into the test build
// of the addon (amulet_test.node, AMULET_TEST_HOOKS); the shipped addon has
// none of it.
#pragma once

#if defined(AMULET_TEST_HOOKS)

#include <cstdint>

namespace amulet::test_hooks {

/**
 * At the `at_token`-th generation step: throw a C++ exception, make an
 * allocation that cannot succeed, or hand llama_decode an invalid batch.
 */
struct Fault {
    enum class Kind { None, Exception, Allocation, Decode } kind = Kind::None;
    int32_t at_token = 0;
};

/** Arms a fault for the next generation that starts, in any session of the process. */
void arm_fault(Fault fault);

/** The armed fault, disarming it (called once by each generation as it starts). */
Fault take_fault();

/**
 * While on, realigning generations decode every sequence as usual but sample
 * the first preference row as it is: the engine's own multi-sequence step,
 * without the realignment, for the benchmark's ceiling.
 */
void set_ceiling(bool on);
bool ceiling();

/**
 * While on, models load their CPU weights in the plain layout, without the
 * repacked ones (AMX, interleaved) llama.cpp picks for this CPU: the layout
 * and so the kernels an RPC worker's CPU device uses, for comparing the two.
 */
void set_plain_cpu_weights(bool on);
bool plain_cpu_weights();

}  // namespace amulet::test_hooks

#endif
