// The one seam through which the test build of the addon (amulet_test.node,
// AMULET_TEST_HOOKS) reaches into a generation: faults provoked on purpose
// for the tests of the error paths, and the benchmark's engine ceiling
// (engine/test_hooks.h). In the shipped addon every member is an empty
// inline function or a constant false, and the decode loop compiles to what
// it would be without them.
#pragma once

#include <cstdint>

#include "engine/test_hooks.h"
#include "llama.h"

namespace amulet {

class GenerationHooks {
  public:
#if defined(AMULET_TEST_HOOKS)
    /** Takes the armed fault and the ceiling setting (each generation as it starts). */
    GenerationHooks();
    /** While on, realigning generations decode every sequence but sample the first preference row as it is. */
    bool ceiling() const { return ceiling_; }
    /** Throws the armed exception, or makes the armed allocation that cannot succeed, at step `generated`. */
    void before_sample(int32_t generated) const;
    /** The token to decode at step `generated`: an invalid one (id `n_vocab`) where a decode fault is armed. */
    llama_token token_to_decode(llama_token token, int32_t generated, int32_t n_vocab) const;

  private:
    test_hooks::Fault fault_;
    bool ceiling_ = false;
#else
    static constexpr bool ceiling() { return false; }
    void before_sample(int32_t) const {}
    llama_token token_to_decode(llama_token token, int32_t, int32_t) const { return token; }
#endif
};

}  // namespace amulet
