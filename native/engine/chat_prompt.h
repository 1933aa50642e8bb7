// Builds prompts with the model's own chat template (GGUF metadata) and
// tokenises them, so that any instruct GGUF works without per-model code.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "engine/loaded_model.h"

namespace amulet {

/**
 * The system prompt of a sequence that follows `additions` (preference
 * texts): the prompt, then each addition after a space (no leading space when
 * the prompt is empty). The paper appends the preference this way.
 */
std::string join_system_prompt(const std::string & system_prompt, const std::vector<std::string> & additions);

/** The messages of a conversation: the system prompt (none when empty), then `turns` from `first` on. */
std::vector<ChatMessage> conversation_messages(const std::string & system_prompt, const std::vector<ChatMessage> & turns,
                                               size_t first = 0);

/**
 * The tokens of a conversation (conversation_messages()), rendered with the
 * model's chat template at time `now` and tokenised. Throws EngineError.
 */
std::vector<llama_token> render_conversation(const LoadedModel & model, const std::string & system_prompt,
                                             const std::vector<ChatMessage> & turns, size_t first,
                                             std::chrono::system_clock::time_point now);

/** Tokenises rendered prompt text (special tokens parsed, BOS added if the model wants one). */
std::vector<llama_token> tokenize_prompt(const LoadedModel & model, const std::string & text);

/** The bytes of one token's text (may be part of a UTF-8 character). */
std::string token_bytes(const LoadedModel & model, llama_token token);

}  // namespace amulet
