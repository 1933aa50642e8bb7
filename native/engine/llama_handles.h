// RAII owners for llama.cpp handles: each frees with its matching *_free.
#pragma once

#include <memory>

#include "llama.h"

namespace amulet {

struct ModelDeleter {
    void operator()(llama_model * model) const noexcept { llama_model_free(model); }
};
struct ContextDeleter {
    void operator()(llama_context * ctx) const noexcept { llama_free(ctx); }
};
struct SamplerDeleter {
    void operator()(llama_sampler * smpl) const noexcept { llama_sampler_free(smpl); }
};

using ModelHandle = std::unique_ptr<llama_model, ModelDeleter>;
using ContextHandle = std::unique_ptr<llama_context, ContextDeleter>;
using SamplerHandle = std::unique_ptr<llama_sampler, SamplerDeleter>;

/** A llama_batch sized once for the most tokens a decode call will carry. */
class BatchHandle {
  public:
    BatchHandle(int32_t capacity, int32_t n_seq_max) : batch_(llama_batch_init(capacity, 0, n_seq_max)), capacity_(capacity) {}
    ~BatchHandle() { llama_batch_free(batch_); }
    BatchHandle(const BatchHandle &) = delete;
    BatchHandle & operator=(const BatchHandle &) = delete;

    void clear() { batch_.n_tokens = 0; }
    int32_t size() const { return batch_.n_tokens; }
    int32_t capacity() const { return capacity_; }
    /** Appends one token of one sequence; returns its row index in the batch. */
    int32_t add(llama_token token, llama_pos pos, llama_seq_id seq, bool wants_logits) {
        const int32_t i = batch_.n_tokens++;
        batch_.token[i] = token;
        batch_.pos[i] = pos;
        batch_.n_seq_id[i] = 1;
        batch_.seq_id[i][0] = seq;
        batch_.logits[i] = wants_logits;
        return i;
    }
    const llama_batch & get() const { return batch_; }

  private:
    llama_batch batch_;
    int32_t capacity_;
};

}  // namespace amulet
