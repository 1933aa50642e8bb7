// Builds prompts with the model's own chat template (GGUF metadata) and
// tokenises them, so that any instruct GGUF works without per-model code.
#pragma once

#include <string>
#include <vector>

#include "engine/loaded_model.h"

namespace amulet {

struct ChatMessage {
    std::string role;  // "system", "user" or "assistant"
    std::string content;
};

/**
 * Renders messages with the model's template, ending with the assistant's turn
 * opened. Models without a template, or with one llama.cpp does not know, fall
 * back to ChatML. Throws EngineError(ERR_TEMPLATE) if rendering fails.
 */
std::string format_chat(const LoadedModel & model, const std::vector<ChatMessage> & messages);

/**
 * The system prompt of a sequence that follows `additions` (preference
 * texts): the prompt, then each addition after a space (no leading space when
 * the prompt is empty). The paper appends the preference this way.
 */
std::string join_system_prompt(const std::string & system_prompt, const std::vector<std::string> & additions);

/**
 * The tokens of a conversation: the system prompt (none when empty), then
 * `turns` from `first` on, rendered with format_chat and tokenised.
 */
std::vector<llama_token> render_conversation(const LoadedModel & model, const std::string & system_prompt,
                                             const std::vector<ChatMessage> & turns, size_t first = 0);

/** Tokenises rendered prompt text (special tokens parsed, BOS added if the model wants one). */
std::vector<llama_token> tokenize_prompt(const LoadedModel & model, const std::string & text);

/** The bytes of one token's text (may be part of a UTF-8 character). */
std::string token_bytes(const LoadedModel & model, llama_token token);

}  // namespace amulet
