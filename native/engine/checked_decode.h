// llama_decode with its failures turned into EngineErrors, for every decode
// loop of the engine (realigned generation, beam search).
#pragma once

#include <atomic>

#include "llama.h"

namespace amulet {

/**
 * Runs llama_decode on `batch`. On failure throws ERR_ABORTED ("<what> was
 * aborted") when the abort callback fired or `abort` is set, ERR_CONTEXT_FULL
 * when no KV cell is left, and otherwise ERR_DECODE with what llama.cpp
 * logged; `stage` ("prompt", "generation") says where it happened.
 */
void checked_decode(llama_context * ctx, const llama_batch & batch, const char * stage,
                    const std::atomic<bool> * abort, const char * what);

}  // namespace amulet
