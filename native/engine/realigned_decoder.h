// The multi-sequence decode loop. Sequence 0 holds the prompt without the
// preference (base), sequences 1..n the prompt with each preference. Shared
// prompt tokens are evaluated once and copied in the KV cache; then every
// generated token is appended to every sequence in ONE llama_decode, and the
// realign sampler combines the sequences' output rows of that decode.
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

struct GenerationRequest {
    std::string system_prompt;
    std::vector<ChatMessage> turns;  // the conversation after the system prompt, ending with the user's message
    std::vector<std::string> preference_texts;
    RealignParams realign;  // realign.weights: one weight per preference text
    SamplingParams sampling;
    int32_t max_tokens = 256;
    bool trace = false;
    bool capture_logits = false;  // diagnostic: copy the raw rows and the realigned log-probs per token
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
    int32_t generated_tokens = 0;
    int32_t sequences = 0;
    double prompt_ms = 0;
    double generation_ms = 0;  // from the end of prompt evaluation to the last sampled token
    double sampler_us = 0;     // total time in the sampler chain
};

class RealignedDecoder {
  public:
    RealignedDecoder(std::shared_ptr<LoadedModel> model, ContextOptions options);

    /**
     * Renders and evaluates the prompts of a new generation. `abort` is polled
     * between tokens and during prompt evaluation. Throws EngineError.
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
    void ensure_context(int32_t n_sequences);
    void evaluate_prompts(const std::vector<std::vector<llama_token>> & prompts);
    void decode_batch(const char * stage);
    void decode_next_token();
    bool aborted() const { return abort_ != nullptr && abort_->load(std::memory_order_relaxed); }

    std::shared_ptr<LoadedModel> model_;
    ContextOptions options_;
    ContextHandle ctx_;
    std::unique_ptr<BatchHandle> batch_;
    int32_t n_sequences_ = 0;  // sequences the context was created for

    // State of the current generation.
    SamplerHandle chain_;
    llama_sampler * realign_ = nullptr;  // owned by chain_
    const std::atomic<bool> * abort_ = nullptr;
    std::vector<int32_t> n_past_;
    std::vector<int32_t> rows_;  // output row of each sequence in the last decode
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
