// The llama.cpp calls every decode loop of the engine (realigned generation,
// beam search) makes the same way, with their failures turned into
// EngineErrors that carry what llama.cpp logged.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "engine/llama_handles.h"
#include "engine/loaded_model.h"
#include "engine/thread_budget.h"

namespace amulet {

/** `requested` threads, or one per hardware thread when it is 0. */
int32_t resolve_threads(int32_t requested);

/**
 * llama_init_from_model with `threads` for both single-token and batch work
 * and llama.cpp's perf counters off. Throws ERR_RPC_* when one of the model's
 * RPC servers was lost, else ERR_CONTEXT_CREATE: "failed to create a context
 * for <what>", with llama.cpp's logged reason.
 */
ContextHandle create_context(const LoadedModel & model, llama_context_params params, int32_t threads,
                             const std::string & what);

/** Makes llama.cpp poll `abort` (may be null: never) during its computations. */
void set_abort_flag(llama_context * ctx, const std::atomic<bool> * abort);

/** Makes llama.cpp poll `cancel` during its computations. */
void set_abort_callback(llama_context * ctx, CancelCheck cancel);

/** The CancelCheck that reads `abort` (may be null: never). */
CancelCheck cancel_on(const std::atomic<bool> * abort);

/**
 * Runs llama_decode on `batch` of a context of `model`, holding the
 * context's threads of the process's ThreadBudget while it runs (waiting for
 * them first, as long as `cancel` does not fire). On failure throws
 * ERR_ABORTED ("<what> was aborted") when the abort callback fired or
 * `cancel` fires, ERR_RPC_* when one of the model's RPC servers was lost (then it
 * also waits for the step to finish: a remote failure is known only then, and
 * its results are zeros), ERR_CONTEXT_FULL when no KV cell is left, and
 * otherwise ERR_DECODE with what llama.cpp logged; `stage` ("prompt",
 * "generation") says where it happened.
 */
void checked_decode(const LoadedModel & model, llama_context * ctx, const llama_batch & batch, const char * stage,
                    CancelCheck cancel, const char * what);

}  // namespace amulet
