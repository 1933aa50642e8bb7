// A session's llama.cpp context: the state that lives from a session's first
// generation to its end. It holds one KV sequence per prompt a generation
// decodes (the base prompt and one per preference), and keeps each
// sequence's cache between generations, so a new turn evaluates only what
// the cache does not hold yet.
//
// A new turn re-renders the whole conversation, but each prompt continues
// the KV sequence that shares the longest token prefix with it (KvSlots):
// only the tokens after that prefix are evaluated, the new exchange on an
// unchanged sequence, the whole history only on a sequence whose preference
// changed. Tokens that several prompts share and no sequence holds yet (a new
// context's system prompt) are evaluated once and copied.
//
// The context is created for the sequences the first generation needs and
// recreated, empty, when a later one needs more; fewer reuse it, and the
// sequences left out keep their cache for later turns.
//
// Reused KV entries of an answer were computed as it was generated, one token
// per micro-batch. llama.cpp's CPU kernels round differently for different
// micro-batch sizes, so a continued conversation and the same conversation
// restored into a fresh session can differ in the last bits of their logits.
//
// Not thread-safe: one generation at a time drives it, on one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/kv_slots.h"
#include "engine/llama_handles.h"
#include "engine/loaded_model.h"

namespace amulet {

struct ContextOptions {
    int32_t context_size = 4096;  // tokens per sequence
    int32_t threads = 0;          // 0: one per hardware thread
    int32_t batch_size = 512;
};

/** Where each sequence of a generation lives in the context, and its output row in the last decode. */
struct SequenceLayout {
    std::vector<llama_seq_id> slots;  // KV sequence of each of the generation's sequences
    std::vector<int32_t> rows;        // output row of each sequence in the last decode
};

/** Prompt-evaluation counters of one generation. */
struct PromptCounts {
    int32_t evaluated_tokens = 0;  // prompt tokens actually decoded (a shared prefix counted once)
    int32_t reused_tokens = 0;     // prompt tokens found in the KV cache, summed over sequences
};

class SessionContext {
  public:
    SessionContext(std::shared_ptr<LoadedModel> model, ContextOptions options);
    ~SessionContext();  // frees the context and hands its freed memory back to the system
    SessionContext(const SessionContext &) = delete;
    SessionContext & operator=(const SessionContext &) = delete;

    /** Makes sure the context holds at least `n_sequences` KV sequences. Throws ERR_CONTEXT_CREATE. */
    void reserve_sequences(int32_t n_sequences);

    /**
     * Pairs each of a generation's prompts (one per sequence) with the KV
     * sequence that holds the longest prefix of it. Call before evaluate(),
     * and attach any backend sampler in between: the last prompt decode
     * samples the first token.
     */
    SequenceLayout assign(const std::vector<std::vector<llama_token>> & prompts);

    /**
     * Decodes what the cache does not hold of `prompts`, ending with the last
     * token of every prompt, whose rows start the generation. Throws
     * ERR_DECODE, ERR_ABORTED, ERR_CONTEXT_FULL; the cache stays consistent
     * with KvSlots.
     */
    void evaluate(const std::vector<std::vector<llama_token>> & prompts, SequenceLayout & layout, PromptCounts & counts);

    /** Appends `token` to every sequence of `layout` in one decode and updates its rows. */
    void decode_token(SequenceLayout & layout, llama_token token);

    /** The longest sequence of `layout`, in tokens. */
    size_t longest(const SequenceLayout & layout) const;

    /** llama.cpp polls `abort` (may be null) during every decode until the next call. */
    void set_abort(const std::atomic<bool> * abort);

    llama_context * get() const { return ctx_.get(); }
    const LoadedModel & model() const { return *model_; }
    const ContextOptions & options() const { return options_; }
    /**
     * When the session began: the time its chat template prints (a date, a
     * time), the same every turn, so that re-rendering the conversation
     * keeps its token prefix and the cache is reused.
     */
    std::chrono::system_clock::time_point created() const { return created_; }

  private:
    void release();
    void decode(const char * stage);

    std::shared_ptr<LoadedModel> model_;
    const ContextOptions options_;
    const std::chrono::system_clock::time_point created_ = std::chrono::system_clock::now();
    ContextHandle ctx_;
    std::unique_ptr<BatchHandle> batch_;
    int32_t n_sequences_ = 0;  // sequences the context was created for
    KvSlots slots_;            // what each KV sequence of the context holds
    const std::atomic<bool> * abort_ = nullptr;
};

}  // namespace amulet
