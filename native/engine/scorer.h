// Scoring: the log-probability a model gives each token of a fixed
// continuation after a conversation (teacher forcing), with no generation.
// The conversation is rendered with the model's chat template, ending with
// the assistant's turn opened, and the continuation's tokens follow it; the
// prompt and the continuation are decoded in batches, and the rows that
// predict the continuation's tokens are read as they come out.
//
// A Scorer owns one context of one sequence, created on its first use, and
// keeps its KV cache between calls: a call whose tokens start like the
// previous call's evaluates only from the first difference on (never later
// than the last prompt token, whose row predicts the first continuation
// token). Judging one prompt's " A" and then its " B" costs one prompt.
//
// Not thread-safe: one call at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/chat_prompt.h"
#include "engine/kv_sequences.h"
#include "engine/llama_handles.h"
#include "engine/loaded_model.h"
#include "engine/context_options.h"

namespace amulet {

struct ScoreRequest {
    std::string system_prompt;             // none when empty
    std::vector<ChatMessage> turns;        // the conversation after the system prompt, ending with the user's message
    std::vector<llama_token> continuation; // used when continuation_text is empty
    std::string continuation_text;         // tokenised as plain text (no special tokens, no BOS)
};

struct ScoreResult {
    std::vector<llama_token> tokens;  // the continuation's tokens
    std::vector<float> log_probs;     // log P(tokens[i] | prompt, tokens[0..i)), natural log; -inf when impossible
    int32_t prompt_tokens = 0;
    int32_t evaluated_tokens = 0;     // tokens decoded by this call
    int32_t reused_tokens = 0;        // tokens found in the KV cache from the previous call
    double ms = 0;
};

class Scorer {
  public:
    Scorer(std::shared_ptr<LoadedModel> model, ContextOptions options);
    Scorer(const Scorer &) = delete;
    Scorer & operator=(const Scorer &) = delete;

    /**
     * Scores the request's continuation. `abort` (may be null) is polled
     * during the decodes. Throws EngineError: ERR_INVALID_OPTION (an empty
     * continuation, a token outside the vocabulary), ERR_CONTEXT_FULL,
     * ERR_CONTEXT_CREATE, ERR_DECODE, ERR_ABORTED, ERR_TEMPLATE.
     */
    ScoreResult score(const ScoreRequest & request, const std::atomic<bool> * abort);

  private:
    void ensure_context();
    std::vector<llama_token> continuation_tokens(const ScoreRequest & request) const;

    std::shared_ptr<LoadedModel> model_;
    const ContextOptions options_;
    ContextHandle ctx_;
    std::unique_ptr<BatchHandle> batch_;
    KvSequences cache_;  // one sequence: what the context holds from the previous call
};

}  // namespace amulet
