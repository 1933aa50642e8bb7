// The multi-sequence decode loop. A generation decodes the prompt without the
// preference (base) and the prompt with each preference as sequences of one
// context; every generated token is appended to every sequence in ONE
// llama_decode, and the realign sampler combines the sequences' output rows of
// that decode.
//
// A decoder is a session's: its context lives from the first generation to
// the session's end, and the KV cache of every sequence is kept between
// generations. A new turn re-renders the whole conversation, but each prompt
// continues the KV sequence that shares the longest token prefix with it
// (KvSlots), so only the tokens after that prefix are evaluated: the new
// exchange on an unchanged sequence, the whole history only on a sequence
// whose preference changed. Tokens that several prompts share and no sequence
// holds yet (a new context's system prompt) are evaluated once and copied.
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
// Not thread-safe: one thread drives a decoder at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/chat_prompt.h"
#include "engine/kv_slots.h"
#include "engine/llama_handles.h"
#include "engine/loaded_model.h"
#include "engine/sampling_chain.h"
#include "engine/utf8_stream.h"
#include "sampler/realign_params.h"
#include "sampler/realign_sampler.h"

namespace amulet {

struct ContextOptions {
    int32_t context_size = 4096;  // tokens per sequence
    int32_t threads = 0;          // 0: one per hardware thread
    int32_t batch_size = 512;
};

/** What to do when the conversation no longer fits in the context. */
enum class ContextOverflow {
    Error,            // ERR_CONTEXT_FULL
    DropOldestTurns,  // drop the oldest exchanges (never the system prompt or the new message)
};

/**
 * A failure to provoke on purpose, for tests of the error paths: at the
 * `at_token`-th generation step, throw a C++ exception, make an allocation
 * that cannot succeed, or hand llama_decode an invalid batch.
 */
struct FaultInjection {
    enum class Kind { None, Exception, Allocation, Decode } kind = Kind::None;
    int32_t at_token = 0;
};

/**
 * Where the realignment and the sampling after it run. Backend: in the compute
 * graph, on the device that holds the logits (the realign sampler's
 * backend path), so no logits row is copied to the host per token. Auto picks
 * the backend when the logits are on a GPU. The backend path covers the
 * closed-form methods with greedy or temperature/top-k/top-p/min-p sampling;
 * amulet-iterative, traces, repetition penalties and more sequences than a
 * micro-batch holds run on the CPU whatever is asked.
 */
enum class RealignOn { Auto, Cpu, Backend };

struct GenerationRequest {
    std::string system_prompt;
    std::vector<ChatMessage> turns;  // the conversation after the system prompt, ending with the user's message
    std::vector<std::string> preference_texts;
    RealignParams realign;  // realign.weights: one weight per preference text
    SamplingParams sampling;
    int32_t max_tokens = 256;
    bool trace = false;
    bool capture_logits = false;  // diagnostic: copy the raw rows and the realigned log-probs per token
    RealignOn realign_on = RealignOn::Auto;
    ContextOverflow overflow = ContextOverflow::Error;
    FaultInjection fault;
};

/** The text of a trace's three top tokens (raw token bytes, possibly part of a character). */
struct TraceTexts {
    std::string base;
    std::string preference;
    std::string realigned;
};

/** One generated token, with its share of the text stream. */
struct GeneratedToken {
    llama_token token = -1;
    std::string text;  // valid UTF-8; empty while a character is still incomplete
    std::optional<TokenTrace> trace;
    TraceTexts trace_texts;  // filled along with trace
    std::vector<std::vector<float>> captured_rows;  // [base, pref_1..n] raw logits, when capturing
    std::vector<float> captured_log_probs;          // realigned log-probs, when capturing
};

enum class FinishReason { Stop, MaxTokens, ContextFull, Aborted };
const char * finish_reason_name(FinishReason reason);

struct GenerationStats {
    int32_t prompt_tokens = 0;     // tokens of the longest sequence's prompt
    int32_t evaluated_tokens = 0;  // prompt tokens actually decoded (shared prefix counted once)
    int32_t reused_tokens = 0;     // prompt tokens found in the KV cache from earlier turns, summed over sequences
    int32_t dropped_messages = 0;  // messages left out at the start of `turns` to fit the context
    int32_t generated_tokens = 0;
    int32_t sequences = 0;
    double prompt_ms = 0;
    double generation_ms = 0;  // from the end of prompt evaluation to the last sampled token
    double sampler_us = 0;     // total time in the sampler chain
    bool on_backend = false;   // realigned and sampled in the compute graph (RealignOn)
};

class RealignedDecoder {
  public:
    RealignedDecoder(std::shared_ptr<LoadedModel> model, ContextOptions options);
    ~RealignedDecoder();  // frees the context and hands its freed memory back to the system
    RealignedDecoder(const RealignedDecoder &) = delete;
    RealignedDecoder & operator=(const RealignedDecoder &) = delete;

    /**
     * Renders the prompts of a new generation and evaluates what the KV cache
     * does not hold yet. `abort` is polled between tokens and during prompt
     * evaluation. Throws EngineError (ERR_CONTEXT_FULL, ERR_CONTEXT_CREATE,
     * ERR_DECODE, ERR_ABORTED, ...); the cached sequences stay consistent.
     */
    void begin(const GenerationRequest & request, const std::atomic<bool> * abort);

    /** Decodes the previous token and samples the next; nullopt once finished. Throws EngineError. */
    std::optional<GeneratedToken> next();

    /** Text still held back by the UTF-8 stream (call once finished). */
    std::string finish_text();

    FinishReason finish_reason() const { return finish_reason_; }
    const GenerationStats & stats() const { return stats_; }
    double guidance_scale() const { return guidance_scale_; }
    const std::shared_ptr<LoadedModel> & model() const { return model_; }

  private:
    struct Plan;
    Plan plan_sequences(const GenerationRequest & request) const;
    std::vector<std::vector<llama_token>> render_prompts(const Plan & plan, const GenerationRequest & request,
                                                         size_t first_turn) const;
    std::vector<std::vector<llama_token>> fit_prompts(const Plan & plan, const GenerationRequest & request);
    void ensure_context(int32_t n_sequences);
    void free_context();
    void evaluate_prompts(const std::vector<std::vector<llama_token>> & prompts);
    void decode_batch(const char * stage);
    void decode_next_token();
    bool wants_backend(const GenerationRequest & request, int32_t n_sequences) const;
    void attach_backend_samplers();
    void detach_backend_samplers();
    llama_token sample(int32_t primary_row);
    std::vector<float> backend_log_probs(int32_t primary_row) const;
    void inject_fault();
    bool aborted() const { return abort_ != nullptr && abort_->load(std::memory_order_relaxed); }

    std::shared_ptr<LoadedModel> model_;
    ContextOptions options_;
    ContextHandle ctx_;
    std::unique_ptr<BatchHandle> batch_;
    int32_t n_sequences_ = 0;  // sequences the context was created for
    KvSlots slots_;            // what each KV sequence of the context holds

    // State of the current generation.
    SamplerHandle chain_;
    llama_sampler * realign_ = nullptr;  // owned by chain_
    bool greedy_ = false;                // chain_ is plain greedy: sample() skips building candidates
    // Backend sampling: chain_ is attached to the primary sequence and the
    // chains in companions_ to the others, which only the realignment reads.
    bool on_backend_ = false;
    std::vector<SamplerHandle> companions_;
    std::vector<llama_seq_id> attached_;  // sequences with a sampler attached to ctx_
    const std::atomic<bool> * abort_ = nullptr;
    std::vector<llama_seq_id> slot_of_;  // KV sequence of each of this generation's sequences
    std::vector<int32_t> rows_;          // output row of each sequence in the last decode
    FaultInjection fault_;
    bool capture_logits_ = false;
    int32_t max_tokens_ = 0;
    llama_token last_token_ = -1;
    bool finished_ = true;
    FinishReason finish_reason_ = FinishReason::Stop;
    GenerationStats stats_;
    double guidance_scale_ = 0;
    Utf8Stream utf8_;
    std::chrono::steady_clock::time_point first_token_time_;
};

}  // namespace amulet
