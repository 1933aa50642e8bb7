#include "engine/checked_decode.h"

#include <string>

#include "engine/engine_error.h"
#include "engine/llama_log.h"

namespace amulet {

void checked_decode(llama_context * ctx, const llama_batch & batch, const char * stage,
                    const std::atomic<bool> * abort, const char * what) {
    const int32_t status = llama_decode(ctx, batch);
    if (status == 0) return;
    // Status 2 is llama.cpp's "aborted by the callback"; a set flag covers an
    // abort that landed after the last callback poll.
    if (status == 2 || (abort != nullptr && abort->load(std::memory_order_relaxed))) {
        throw EngineError(error_code::kAborted, std::string(what) + " was aborted");
    }
    if (status == 1) {
        throw EngineError(error_code::kContextFull, std::string("no room left in the context during ") + stage);
    }
    const std::string why = take_llama_log_errors();
    throw EngineError(error_code::kDecode, std::string("llama_decode failed during ") + stage + " (status " +
                                               std::to_string(status) + ")" + (why.empty() ? "" : ": " + why));
}

}  // namespace amulet
