#include "engine/chat_prompt.h"

#include <climits>

#include "engine/engine_error.h"

namespace amulet {

namespace {

int32_t apply_template(const char * tmpl, const std::vector<llama_chat_message> & chat, std::string & out) {
    int32_t n = llama_chat_apply_template(tmpl, chat.data(), chat.size(), true, out.data(),
                                          static_cast<int32_t>(out.size()));
    if (n > static_cast<int32_t>(out.size())) {
        out.resize(static_cast<size_t>(n));
        n = llama_chat_apply_template(tmpl, chat.data(), chat.size(), true, out.data(),
                                      static_cast<int32_t>(out.size()));
    }
    return n;
}

}  // namespace

std::string join_system_prompt(const std::string & system_prompt, const std::vector<std::string> & additions) {
    std::string joined = system_prompt;
    for (const auto & text : additions) {
        if (!joined.empty()) joined += ' ';
        joined += text;
    }
    return joined;
}

std::vector<llama_token> render_conversation(const LoadedModel & model, const std::string & system_prompt,
                                             const std::vector<ChatMessage> & turns, size_t first) {
    std::vector<ChatMessage> messages;
    if (!system_prompt.empty()) messages.push_back({"system", system_prompt});
    messages.insert(messages.end(), turns.begin() + static_cast<std::ptrdiff_t>(first), turns.end());
    return tokenize_prompt(model, format_chat(model, messages));
}

std::string format_chat(const LoadedModel & model, const std::vector<ChatMessage> & messages) {
    std::vector<llama_chat_message> chat;
    chat.reserve(messages.size());
    size_t total = 0;
    for (const auto & message : messages) {
        chat.push_back({message.role.c_str(), message.content.c_str()});
        total += message.content.size();
    }
    std::string out(total * 2 + 256, '\0');
    const std::string & tmpl = model.chat_template();
    int32_t n = tmpl.empty() ? -1 : apply_template(tmpl.c_str(), chat, out);
    if (n < 0) n = apply_template("chatml", chat, out);
    if (n < 0) throw EngineError(error_code::kTemplate, "could not render the chat template");
    out.resize(static_cast<size_t>(n));
    return out;
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
