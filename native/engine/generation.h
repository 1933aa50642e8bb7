// One generation: a request decoded on a session's context. It decodes the
// prompt without the preference (base) and the prompt with each preference
// as sequences of the context; every generated token is appended to every
// sequence in ONE llama_decode, and the realign sampler combines the
// sequences' output rows of that decode.
//
// A Generation is built fresh for each request and holds everything that
// lives only as long as it: the sampler chain, the backend samplers attached
// to the context, the rows of the last decode, the counters and the UTF-8
// stream. The context and its KV cache outlive it (SessionContext).
//
// Not thread-safe: one thread drives a generation.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/chat_prompt.h"
#include "engine/llama_handles.h"
#include "engine/sampling_chain.h"
#include "engine/session_context.h"
#include "engine/stop_matcher.h"
#include "engine/test_hooks.h"
#include "engine/token_constraints.h"
#include "engine/utf8_stream.h"
#include "sampler/realign_params.h"
#include "sampler/realign_sampler.h"

namespace amulet {

/** What to do when the conversation no longer fits in the context. */
enum class ContextOverflow {
    Error,            // ERR_CONTEXT_FULL
    DropOldestTurns,  // drop the oldest exchanges (never the system prompt or the new message)
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
    TokenConstraints constraints;
    std::vector<std::string> stop;  // the generation ends where its text first contains one; none is emitted
    int32_t max_tokens = 256;
    bool trace = false;
    bool capture_logits = false;  // diagnostic: copy the raw rows and the realigned log-probs per token
    RealignOn realign_on = RealignOn::Auto;
    ContextOverflow overflow = ContextOverflow::Error;
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
    std::vector<std::vector<float>> captured_rows;  // raw logits of every sequence ([base, pref_1..n]), when capturing
    std::vector<float> captured_log_probs;          // log-probs of the distribution sampled from, when capturing
    float captured_scale = 0.0f;                    // the guidance scale of that distribution, when capturing
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
    double guidance_scale_sum = 0;  // the scale each generated token was realigned with, summed
    bool on_backend = false;   // realigned and sampled in the compute graph (RealignOn)
};

class Generation {
  public:
    /**
     * Renders the request's prompts and evaluates what the context's KV cache
     * does not hold yet. `abort` is polled between tokens and during prompt
     * evaluation. Throws EngineError (ERR_CONTEXT_FULL, ERR_CONTEXT_CREATE,
     * ERR_DECODE, ERR_ABORTED, ERR_INVALID_OPTION, ...); the cached sequences
     * stay consistent.
     */
    Generation(SessionContext & context, const GenerationRequest & request, const std::atomic<bool> * abort);
    ~Generation();  // detaches the backend samplers from the context
    Generation(const Generation &) = delete;
    Generation & operator=(const Generation &) = delete;

    /** Decodes the previous token and samples the next; nullopt once finished. Throws EngineError. */
    std::optional<GeneratedToken> next();

    /** Text still held back by the UTF-8 stream and the stop strings (call once finished). */
    std::string finish_text();

    FinishReason finish_reason() const { return finish_reason_; }
    /** The stop string the generation ended at; empty when it ended otherwise. */
    const std::string & stop_string() const { return stop_.matched(); }
    const GenerationStats & stats() const { return stats_; }
    double guidance_scale() const { return guidance_scale_; }
    /** The scale the generated tokens were realigned with, on average: below guidance_scale() where a KL budget capped it. */
    double mean_guidance_scale() const;

  private:
    struct Plan;
    Plan plan_sequences(const GenerationRequest & request) const;
    std::vector<std::vector<llama_token>> render_prompts(const Plan & plan, const GenerationRequest & request,
                                                         size_t first_turn) const;
    std::vector<std::vector<llama_token>> fit_prompts(const Plan & plan, const GenerationRequest & request);
    bool wants_backend(const GenerationRequest & request) const;
    void attach_backend_samplers();
    void detach_backend_samplers();
    llama_token sample(int32_t primary_row);
    std::vector<float> backend_log_probs(int32_t primary_row) const;
    /** Copies the raw rows of this step and the log-probs sampled from into `generated`. */
    void capture(GeneratedToken & generated, int32_t primary_row) const;
    bool aborted() const { return abort_ != nullptr && abort_->load(std::memory_order_relaxed); }
#if defined(AMULET_TEST_HOOKS)
    void inject_fault();
    test_hooks::Fault fault_;
    bool ceiling_ = false;
#endif

    SessionContext & context_;
    const std::atomic<bool> * const abort_;
    SamplerHandle chain_;
    llama_sampler * realign_ = nullptr;  // owned by chain_
    bool greedy_ = false;                // chain_ is plain greedy: sample() skips building candidates
    // Backend sampling: chain_ is attached to the primary sequence and the
    // chains in companions_ to the others, which only the realignment reads.
    bool on_backend_ = false;
    std::vector<SamplerHandle> companions_;
    std::vector<llama_seq_id> attached_;  // sequences with a sampler attached to the context
    SequenceLayout layout_;
    bool capture_logits_ = false;
    int32_t max_tokens_ = 0;
    llama_token last_token_ = -1;
    bool finished_ = false;
    FinishReason finish_reason_ = FinishReason::Stop;
    GenerationStats stats_;
    double guidance_scale_ = 0;
    Utf8Stream utf8_;
    StopMatcher stop_;
    std::chrono::steady_clock::time_point first_token_time_;
};

}  // namespace amulet
