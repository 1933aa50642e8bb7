// The prompt evaluation of one generation, fed into the context's decode
// steps a chunk at a time, so that a long prompt shares the steps with the
// tokens of the generations already running instead of holding them up.
//
// What each sequence still needs follows from what its KV sequence holds
// (KvSequences), so a step that fails or is aborted (llama.cpp then removes its
// tokens) is simply fed again. In order:
// 1. each sequence keeps the longest prefix its cache shares with its prompt,
//    less the last token, whose logits start the generation;
// 2. tokens that other prompts share with prompt 0 beyond what their own
//    sequence holds (all of them in a new context: the system prompt) are
//    evaluated once, on prompt 0's sequence, then copied;
// 3. each sequence's own part, packed together;
// 4. the last token of every sequence, in one step, whose rows start the
//    generation.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/decode_context.h"

namespace amulet {

class PromptFeed {
  public:
    /** Step 1 (truncates each sequence to what it keeps) and the plan of step 2. */
    PromptFeed(DecodeContext & context, const std::vector<std::vector<llama_token>> & prompts,
               const std::vector<llama_seq_id> & sequences);

    /**
     * Adds this step's prompt tokens to the context's batch, at most `room`.
     * Once every sequence holds all of its prompt but the last token, adds
     * the last tokens instead, with their rows (into `rows`, one per
     * sequence), but only when all of them fit, and sets `last`. Returns the
     * tokens added.
     */
    int32_t feed(int32_t room, std::vector<int32_t> & rows, bool & last);

    /** Prompt tokens found in the KV cache, summed over the sequences. */
    int32_t reused_tokens() const { return reused_tokens_; }

  private:
    void add(size_t i, size_t position, bool wants_logits, int32_t * row);

    DecodeContext & context_;
    const std::vector<std::vector<llama_token>> & prompts_;
    const std::vector<llama_seq_id> & sequences_;
    std::vector<size_t> copy_to_;  // prompt i's tokens to copy from sequence 0's (0: none)
    size_t shared_end_ = 0;        // what sequence 0 evaluates for the others
    bool copied_ = false;
    int32_t reused_tokens_ = 0;
};

}  // namespace amulet
