// One generation: a request decoded on a context. It decodes the prompt
// without the preference (base) and the prompt with each preference as
// sequences of the context; every generated token is appended to every
// sequence in ONE llama_decode, and the realign sampler combines the
// sequences' output rows of that decode.
//
// The context's decode thread (BatchEngine) drives it step by step, together
// with the other generations of the context: each step, contribute() adds
// its tokens to the step's batch (a chunk of its prompt, or its last token on
// every sequence), the engine decodes the batch once, and after_decode()
// samples from its own rows of that decode.
//
// A Generation is built fresh for each request and holds everything that
// lives only as long as it: the sampler chain, the backend samplers attached
// to the context, its rows of the last decode, the counters and the UTF-8
// stream. The context and its KV cache outlive it (DecodeContext).
//
// Not thread-safe: one thread drives a generation.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/chat_prompt.h"
#include "engine/decode_context.h"
#include "engine/generation_hooks.h"
#include "engine/llama_handles.h"
#include "engine/prompt_feed.h"
#include "engine/sampling_chain.h"
#include "engine/stop_matcher.h"
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
    std::vector<std::vector<int32_t>> captured_guard_tokens;  // each preference's echo guard set, when capturing
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
    double sampler_total_us = 0;  // time in the sampler chain, summed over the tokens
    double guidance_scale_sum = 0;  // the scale each generated token was realigned with, summed
    bool on_backend = false;   // realigned and sampled in the compute graph (RealignOn)
};

/** Where each sequence of a generation lives in the context, and its output row in the last decode. */
struct SequenceLayout {
    std::vector<llama_seq_id> seq_ids;  // KV sequence of each of the generation's sequences
    std::vector<int32_t> rows;        // output row of each sequence in the last decode
};

class Generation {
  public:
    /**
     * Plans the request on `context`: which sequences it decodes, its
     * prompts, rendered at `conversation_start` (the time a chat template
     * prints) and fitted to the context, and its grammar. Touches neither the
     * llama.cpp context nor its KV cache. Throws EngineError
     * (ERR_CONTEXT_FULL for a prompt that cannot fit, ERR_INVALID_OPTION,
     * ERR_TEMPLATE, ...).
     */
    Generation(DecodeContext & context, const GenerationRequest & request,
               std::chrono::system_clock::time_point conversation_start);
    ~Generation();  // detaches the backend samplers from the context
    Generation(const Generation &) = delete;
    Generation & operator=(const Generation &) = delete;

    /** The prompt of each sequence the generation decodes. */
    const std::vector<std::vector<llama_token>> & prompts() const { return prompts_; }
    /** The KV sequences it decodes, once begun. */
    const std::vector<llama_seq_id> & sequences() const { return layout_.seq_ids; }

    /**
     * Starts on `sequences` (from DecodeContext::acquire, one per prompt):
     * builds the sampler chain, attaches the backend samplers and plans the
     * prompt evaluation. Throws ERR_INVALID_OPTION, ERR_DECODE.
     */
    void begin(std::vector<llama_seq_id> sequences);

    /** True when it realigns and samples in the compute graph (RealignOn): its steps carry no host sampler. */
    bool on_backend() const { return on_backend_; }
    bool evaluating_prompt() const { return phase_ == Phase::Prompt; }
    bool finished() const { return phase_ == Phase::Finished; }

    /**
     * Adds this step's tokens to the context's batch, at most `room`: a
     * chunk of its prompt, or the last generated token on every sequence.
     * Returns how many it added (0: nothing this step, or it has finished:
     * the context is full). Throws EngineError.
     */
    int32_t contribute(int32_t room);

    /**
     * After the step's decode succeeded: takes what it contributed as done
     * and, when the step computed its rows, samples the next token. Returns
     * the token; nullopt when it produced none this step (or finished).
     * Throws EngineError.
     */
    std::optional<GeneratedToken> after_decode();

    /** The step's decode failed or was not made: what contribute() added does not count. */
    void step_failed();

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
    enum class Phase { Prompt, Generating, Finished };
    struct Plan {
        std::vector<std::string> system_prompts;  // [0] is base when realigning
        RealignParams realign;
        bool realigns = false;
    };
    static Plan plan_sequences(const GenerationRequest & request);
    std::vector<std::vector<llama_token>> render_prompts(const GenerationRequest & request, size_t first_turn) const;
    void fit_prompts(const GenerationRequest & request);
    bool wants_backend() const;
    void attach_backend_samplers();
    void detach_backend_samplers();
    void finish(FinishReason reason);
    std::optional<GeneratedToken> sample_token();
    llama_token sample(int32_t primary_row);
    std::vector<float> backend_log_probs(int32_t primary_row) const;
    /** Copies the raw rows of this step and the log-probs sampled from into `generated`. */
    void capture(GeneratedToken & generated, int32_t primary_row) const;
    int32_t primary_row() const { return layout_.rows[layout_.rows.size() > 1 ? 1 : 0]; }

    DecodeContext & context_;
    const GenerationRequest & request_;
    const std::chrono::system_clock::time_point conversation_start_;
    GenerationHooks hooks_;  // takes the test build's armed fault as the generation is made
    Plan plan_;
    std::vector<std::vector<llama_token>> prompts_;
    SamplerHandle grammar_;  // checked at construction, moved into the chain by begin()
    SamplerHandle chain_;
    llama_sampler * realign_ = nullptr;  // owned by chain_
    bool greedy_ = false;                // chain_ is plain greedy: sample() skips building candidates
    bool ceiling_ = false;               // the test build's engine ceiling (GenerationHooks)
    // Backend sampling: chain_ is attached to the primary sequence and the
    // chains in companions_ to the others, which only the realignment reads.
    bool on_backend_ = false;
    std::vector<SamplerHandle> companions_;
    std::vector<llama_seq_id> attached_;  // sequences with a sampler attached to the context
    bool keeps_raw_logits_ = false;       // a capture has llama.cpp copy the raw rows beside the sampled one
    SequenceLayout layout_;
    std::unique_ptr<PromptFeed> feed_;
    Phase phase_ = Phase::Prompt;
    bool awaits_rows_ = false;        // the last contribution asked for this generation's rows
    int32_t step_prompt_tokens_ = 0;  // prompt tokens of the last contribution
    llama_token pending_token_ = -1;  // sampled, not yet decoded
    FinishReason finish_reason_ = FinishReason::Stop;
    GenerationStats stats_;
    double guidance_scale_ = 0;
    Utf8Stream utf8_;
    StopMatcher stop_;
    std::chrono::steady_clock::time_point begin_time_;
    std::chrono::steady_clock::time_point first_token_time_;
};

}  // namespace amulet
