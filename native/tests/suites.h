// The test suites of amulet_native_tests, one per unit under test; main.cpp runs them in turn.
#pragma once

namespace amulet::tests {

void realign_math_tests();
void realign_params_tests();
void utf8_stream_tests();
void kv_sequences_tests();
void echo_guard_tokens_tests();

}  // namespace amulet::tests
