#include "engine/session_context.h"

#include <algorithm>
#include <string>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "engine/llama_calls.h"

namespace amulet {

SessionContext::SessionContext(std::shared_ptr<LoadedModel> model, ContextOptions options)
    : model_(std::move(model)), options_(options) {}

SessionContext::~SessionContext() { release(); }

void SessionContext::release() {
    const bool had_context = ctx_ != nullptr;
    batch_.reset();
    ctx_.reset();
    n_sequences_ = 0;
    slots_.reset(nullptr, 0, 0);
#if defined(__GLIBC__)
    // A context's large buffers (KV cache, compute and output buffers) are
    // mapped and unmapped by ggml itself (vendor/patches/0003). Its many
    // smaller heap allocations (graph metadata, per-sequence arrays) leave
    // free pages behind that the process would keep: 10-20 MB after a few
    // sessions of SmolLM2-135M. Hand those pages back.
    if (had_context) malloc_trim(0);
#else
    (void) had_context;
#endif
}

void SessionContext::reserve_sequences(int32_t n_sequences) {
    if (ctx_ && n_sequences_ >= n_sequences) return;
    release();
    // A batch carries at least one token per sequence (every generation step).
    const int32_t batch_size = std::max(options_.batch_size, n_sequences);
    llama_context_params params = llama_context_default_params();
    params.n_ctx = static_cast<uint32_t>(options_.context_size) * static_cast<uint32_t>(n_sequences);
    params.n_batch = static_cast<uint32_t>(batch_size);
    params.n_ubatch = static_cast<uint32_t>(options_.batch_size);
    params.n_seq_max = static_cast<uint32_t>(n_sequences);
    // Every decode asks for at most one row per sequence; a backend sampler
    // is then sized for one (and the dist sampler draws as on the CPU).
    params.n_outputs_max_per_seq = 1;
    // One KV stream per sequence: a sequence attends only to its own cells, so
    // a batched step computes what a single-sequence step would.
    params.kv_unified = false;
    ctx_ = create_context(*model_, params, resolve_threads(options_.threads),
                          std::to_string(n_sequences) + " sequences of " + std::to_string(options_.context_size) +
                              " tokens");
    batch_ = std::make_unique<BatchHandle>(batch_size, n_sequences);
    n_sequences_ = n_sequences;
    slots_.reset(ctx_.get(), n_sequences, llama_model_n_swa(model_->get()));
}

void SessionContext::set_abort(const std::atomic<bool> * abort) {
    abort_ = abort;
    set_abort_flag(ctx_.get(), abort);
}

SequenceLayout SessionContext::assign(const std::vector<std::vector<llama_token>> & prompts) {
    // What the cache holds after a failed or aborted decode of an earlier turn.
    slots_.resync();
    SequenceLayout layout;
    layout.slots = assign_slots(prompts, slots_.all());
    layout.rows.assign(prompts.size(), 0);
    return layout;
}

void SessionContext::evaluate(const std::vector<std::vector<llama_token>> & prompts, SequenceLayout & layout,
                              PromptCounts & counts) {
    const size_t n = prompts.size();
    const std::vector<llama_seq_id> & slot_of = layout.slots;

    // 1. Each sequence keeps the longest prefix its KV sequence shares with its
    //    prompt, less the last token, whose logits start the generation.
    std::vector<size_t> keep(n);
    for (size_t i = 0; i < n; ++i) {
        const size_t shared = std::min(common_prefix(prompts[i], slots_.tokens(slot_of[i])), prompts[i].size() - 1);
        keep[i] = slots_.truncate(slot_of[i], shared);
        counts.reused_tokens += static_cast<int32_t>(keep[i]);
    }

    BatchHandle & batch = *batch_;
    batch.clear();
    const auto add = [&](size_t i, size_t position, bool wants_logits) {
        const llama_seq_id slot = slot_of[i];
        slots_.append(slot, prompts[i][position]);
        ++counts.evaluated_tokens;
        return batch.add(prompts[i][position], static_cast<llama_pos>(position), slot, wants_logits);
    };
    const auto flush = [&](bool when_full) {
        if (batch.size() > 0 && (!when_full || batch.size() == batch.capacity())) {
            decode("prompt");
            batch.clear();
        }
    };

    // 2. Tokens that other prompts share with prompt 0 beyond what their own
    //    sequence holds (all of them in a new context: the system prompt) are
    //    evaluated once, on prompt 0's sequence, and copied.
    constexpr size_t kMinCopyGain = 4;  // a copy moves a whole KV stream: not worth it for fewer tokens
    std::vector<size_t> copy_to(n, 0);
    size_t shared_end = keep[0];
    for (size_t i = 1; i < n; ++i) {
        const size_t shared = std::min({common_prefix(prompts[i], prompts[0]), prompts[i].size() - 1,
                                        prompts[0].size() - 1});
        if (shared >= keep[i] + kMinCopyGain) {
            copy_to[i] = shared;
            shared_end = std::max(shared_end, shared);
        }
    }
    for (size_t position = keep[0]; position < shared_end; ++position) {
        add(0, position, false);
        flush(true);
    }
    flush(false);
    keep[0] = std::max(keep[0], shared_end);
    for (size_t i = 1; i < n; ++i) {
        if (copy_to[i] > 0) keep[i] = slots_.copy_prefix(slot_of[0], slot_of[i], copy_to[i]);
    }

    // 3. Each sequence's own part, packed together.
    for (size_t i = 0; i < n; ++i) {
        for (size_t position = keep[i]; position + 1 < prompts[i].size(); ++position) {
            add(i, position, false);
            flush(true);
        }
    }
    flush(false);
    // 4. The last token of every sequence, whose logits start the generation.
    for (size_t i = 0; i < n; ++i) layout.rows[i] = add(i, prompts[i].size() - 1, true);
    decode("prompt");
}

void SessionContext::decode_token(SequenceLayout & layout, llama_token token) {
    BatchHandle & batch = *batch_;
    batch.clear();
    for (size_t i = 0; i < layout.slots.size(); ++i) {
        const llama_seq_id slot = layout.slots[i];
        const auto position = static_cast<llama_pos>(slots_.tokens(slot).size());
        slots_.append(slot, token);
        layout.rows[i] = batch.add(token, position, slot, true);
    }
    decode("generation");
}

size_t SessionContext::longest(const SequenceLayout & layout) const {
    size_t longest = 0;
    for (const llama_seq_id slot : layout.slots) longest = std::max(longest, slots_.tokens(slot).size());
    return longest;
}

void SessionContext::decode(const char * stage) {
    checked_decode(*model_, ctx_.get(), batch_->get(), stage, abort_, "generation");
}

}  // namespace amulet
