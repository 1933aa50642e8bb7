#include "engine/chat_prompt.h"

#include <climits>

#include "engine/engine_error.h"

namespace amulet {

std::string join_system_prompt(const std::string & system_prompt, const std::vector<std::string> & additions) {
    std::string joined = system_prompt;
    for (const auto & text : additions) {
        if (!joined.empty()) joined += ' ';
        joined += text;
    }
    return joined;
}

std::vector<ChatMessage> conversation_messages(const std::string & system_prompt, const std::vector<ChatMessage> & turns,
                                               size_t first) {
    std::vector<ChatMessage> messages;
    if (!system_prompt.empty()) messages.push_back({"system", system_prompt});
    messages.insert(messages.end(), turns.begin() + static_cast<std::ptrdiff_t>(first), turns.end());
    return messages;
}

std::vector<llama_token> render_conversation(const LoadedModel & model, const std::string & system_prompt,
                                             const std::vector<ChatMessage> & turns, size_t first,
                                             std::chrono::system_clock::time_point now) {
    return tokenize_prompt(model, model.chat_template().render(conversation_messages(system_prompt, turns, first), now));
}

std::vector<llama_token> tokenize_prompt(const LoadedModel & model, const std::string & text) {
    if (text.size() > static_cast<size_t>(INT_MAX / 2)) {
        throw EngineError(error_code::kContextFull, "the prompt is too long to tokenise");
    }
    const int32_t text_len = static_cast<int32_t>(text.size());
    std::vector<llama_token> tokens(text.size() + 2);
    int32_t n = llama_tokenize(model.vocab(), text.data(), text_len, tokens.data(),
                               static_cast<int32_t>(tokens.size()), true, true);
    if (n < 0) {
        tokens.resize(static_cast<size_t>(-n));
        n = llama_tokenize(model.vocab(), text.data(), text_len, tokens.data(), static_cast<int32_t>(tokens.size()),
                           true, true);
    }
    if (n < 0) throw EngineError(error_code::kNative, "tokenisation failed");
    tokens.resize(static_cast<size_t>(n));
    return tokens;
}

std::string token_bytes(const LoadedModel & model, llama_token token) {
    char buffer[128];
    int32_t n = llama_token_to_piece(model.vocab(), token, buffer, sizeof buffer, 0, false);
    if (n >= 0) return std::string(buffer, static_cast<size_t>(n));
    std::string piece(static_cast<size_t>(-n), '\0');
    n = llama_token_to_piece(model.vocab(), token, piece.data(), static_cast<int32_t>(piece.size()), 0, false);
    piece.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return piece;
}

}  // namespace amulet
