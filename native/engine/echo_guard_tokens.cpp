#include "engine/echo_guard_tokens.h"

#include <algorithm>
#include <climits>

#include "engine/chat_prompt.h"

namespace amulet {

namespace {

bool is_ascii_letter(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_word_byte(unsigned char c) { return is_ascii_letter(c) || (c >= '0' && c <= '9') || c >= 0x80; }

std::string lower(std::string word) {
    for (char & c : word) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return word;
}

std::string capitalised(const std::string & word) {
    std::string out = lower(word);
    if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 'a' + 'A');
    return out;
}

bool is_function_word(const std::string & lower_word) {
    const std::vector<std::string> & words = echo_guard_function_words();
    return std::binary_search(words.begin(), words.end(), lower_word);
}

std::vector<llama_token> tokenize_plain(const LoadedModel & model, const std::string & text) {
    // A form is one word: a few tokens at most, never near INT_MAX bytes.
    std::vector<llama_token> tokens(text.size() + 2);
    const auto length = static_cast<int32_t>(std::min<size_t>(text.size(), INT_MAX / 2));
    int32_t n = llama_tokenize(model.vocab(), text.data(), length, tokens.data(), static_cast<int32_t>(tokens.size()),
                               false, false);
    if (n < 0) {
        tokens.resize(static_cast<size_t>(-n));
        n = llama_tokenize(model.vocab(), text.data(), length, tokens.data(), static_cast<int32_t>(tokens.size()), false,
                           false);
    }
    tokens.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return tokens;
}

}  // namespace

const std::vector<std::string> & echo_guard_function_words() {
    static const std::vector<std::string> words = [] {
        std::vector<std::string> list = {
            // English
            "a", "about", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "been", "being", "but",
            "by", "can", "could", "did", "do", "does", "each", "for", "from", "had", "has", "have", "he", "her", "his",
            "how", "i", "if", "in", "into", "is", "it", "its", "just", "may", "me", "might", "more", "most", "much",
            "must", "my", "no", "not", "of", "on", "or", "other", "our", "out", "over", "shall", "she",
            "should", "so", "some", "such", "than", "that", "the", "their", "them", "then", "there", "these", "they",
            "this", "those", "to", "up", "very", "was", "we", "were", "what", "when", "where", "which", "who", "why",
            "will", "with", "would", "you", "your",
            // French
            "au", "aux", "avec", "ce", "ces", "cet", "cette", "dans", "de", "des", "du", "elle", "elles", "est", "et",
            "être", "il", "ils", "je", "la", "le", "les", "leur", "leurs", "mais", "ne", "nos", "notre", "nous", "ou",
            "par", "pas", "plus", "pour", "que", "qui", "sa", "sans", "se", "ses", "son", "sont", "sur", "tres", "très",
            "tu", "un", "une", "vos", "votre", "vous",
            // German
            "aber", "als", "auf", "dem", "den", "der", "die", "das", "du", "ein", "eine", "einem", "einen", "einer",
            "er", "es", "für", "ich", "ihr", "ihre", "im", "ist", "mehr", "mit", "nicht", "oder", "sehr", "sein",
            "sie", "sind", "und", "von", "war", "wie", "wir", "zu", "zum", "zur",
            // Spanish
            "al", "como", "con", "del", "el", "en", "las", "los", "lo", "más", "mas", "muy", "para", "pero", "por",
            "ser", "sin", "su", "sus", "te", "una", "unas", "unos", "y",
        };
        std::sort(list.begin(), list.end());
        list.erase(std::unique(list.begin(), list.end()), list.end());
        return list;
    }();
    return words;
}

std::vector<std::string> echo_guard_forms(const std::string & text) {
    std::vector<std::string> forms;
    size_t i = 0;
    while (i < text.size()) {
        if (!is_word_byte(static_cast<unsigned char>(text[i]))) {
            ++i;
            continue;
        }
        size_t end = i;
        while (end < text.size() && is_word_byte(static_cast<unsigned char>(text[end]))) ++end;
        const std::string word = text.substr(i, end - i);
        i = end;
        if (is_function_word(lower(word))) continue;
        for (const std::string & form : {word, lower(word), capitalised(word)}) {
            forms.push_back(form);
            forms.push_back(" " + form);
        }
    }
    std::sort(forms.begin(), forms.end());
    forms.erase(std::unique(forms.begin(), forms.end()), forms.end());
    return forms;
}

bool echo_guard_keeps_piece(const std::string & piece) {
    size_t letters = 0;
    std::string trimmed;
    for (char c : piece) {
        const auto byte = static_cast<unsigned char>(c);
        if (is_ascii_letter(byte) || byte >= 0xC0) ++letters;  // a UTF-8 lead byte starts one character
        if (c != ' ') trimmed.push_back(c);
    }
    return letters >= 3 && !is_function_word(lower(trimmed));
}

std::vector<int32_t> echo_guard_tokens(const LoadedModel & model, const std::string & text) {
    std::vector<int32_t> tokens;
    for (const std::string & form : echo_guard_forms(text)) {
        for (const llama_token token : tokenize_plain(model, form)) {
            const llama_token_attr attr = llama_vocab_get_attr(model.vocab(), token);
            const int special = LLAMA_TOKEN_ATTR_CONTROL | LLAMA_TOKEN_ATTR_UNKNOWN | LLAMA_TOKEN_ATTR_UNUSED |
                                LLAMA_TOKEN_ATTR_BYTE | LLAMA_TOKEN_ATTR_USER_DEFINED;
            if ((attr & LLAMA_TOKEN_ATTR_NORMAL) == 0 || (attr & special) != 0) continue;
            if (llama_vocab_is_eog(model.vocab(), token)) continue;
            if (!echo_guard_keeps_piece(token_bytes(model, token))) continue;
            tokens.push_back(token);
        }
    }
    std::sort(tokens.begin(), tokens.end());
    tokens.erase(std::unique(tokens.begin(), tokens.end()), tokens.end());
    return tokens;
}

}  // namespace amulet
