#include "engine/llama_calls.h"

#include <algorithm>
#include <thread>

#include "engine/engine_error.h"
#include "engine/llama_log.h"

namespace amulet {

namespace {

bool abort_requested(void * flag) { return static_cast<const std::atomic<bool> *>(flag)->load(); }

}  // namespace

int32_t resolve_threads(int32_t requested) {
    return requested > 0 ? requested : static_cast<int32_t>(std::max(1u, std::thread::hardware_concurrency()));
}

ContextHandle create_context(const LoadedModel & model, llama_context_params params, int32_t threads,
                             const std::string & what) {
    params.n_threads = threads;
    params.n_threads_batch = threads;
    params.no_perf = true;
    take_llama_log_errors();  // only what this call logs explains its failure
    ContextHandle ctx(llama_init_from_model(model.get(), params));
    model.check_remote();  // the KV cache and compute buffers of remote layers live on their servers
    if (!ctx) {
        const std::string why = take_llama_log_errors();
        throw EngineError(error_code::kContextCreate,
                          "failed to create a context for " + what + (why.empty() ? "" : ": " + why));
    }
    return ctx;
}

CancelCheck cancel_on(const std::atomic<bool> * abort) {
    return abort != nullptr ? CancelCheck{abort_requested, const_cast<std::atomic<bool> *>(abort)} : CancelCheck{};
}

void set_abort_flag(llama_context * ctx, const std::atomic<bool> * abort) { set_abort_callback(ctx, cancel_on(abort)); }

void set_abort_callback(llama_context * ctx, CancelCheck cancel) {
    llama_set_abort_callback(ctx, cancel.cancelled, cancel.data);
}

void checked_decode(const LoadedModel & model, llama_context * ctx, const llama_batch & batch, const char * stage,
                    CancelCheck cancel, const char * what) {
    const ThreadLease lease(llama_n_threads(ctx), cancel);
    if (!lease.held()) throw EngineError(error_code::kAborted, std::string(what) + " was aborted");
    const int32_t status = llama_decode(ctx, batch);
    if (model.has_remote()) {
        llama_synchronize(ctx);
        model.check_remote();
    }
    if (status == 0) return;
    // Status 2 is llama.cpp's "aborted by the callback"; a set flag covers an
    // abort that landed after the last callback poll.
    if (status == 2 || cancel()) {
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
