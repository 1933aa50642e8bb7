#include "engine/generation_hooks.h"

#if defined(AMULET_TEST_HOOKS)

#include <limits>
#include <new>
#include <stdexcept>

namespace amulet {

GenerationHooks::GenerationHooks() : fault_(test_hooks::take_fault()), ceiling_(test_hooks::ceiling()) {}

void GenerationHooks::before_sample(int32_t generated) const {
    using Kind = test_hooks::Fault::Kind;
    if (generated != fault_.at_token) return;
    if (fault_.kind == Kind::Exception) throw std::runtime_error("injected C++ exception (test hook)");
    if (fault_.kind == Kind::Allocation) {
        // A real allocation that cannot succeed: more than half the address space.
        volatile size_t huge = std::numeric_limits<size_t>::max() / 2;
        void * memory = ::operator new(huge);
        ::operator delete(memory);
    }
}

llama_token GenerationHooks::token_to_decode(llama_token token, int32_t generated, int32_t n_vocab) const {
    // A real llama_decode call that fails: a token id outside the vocabulary.
    return fault_.kind == test_hooks::Fault::Kind::Decode && generated == fault_.at_token ? n_vocab : token;
}

}  // namespace amulet

#endif
