#include "engine/chat_template.h"

#include <exception>

#include "chat.h"
#include "engine/engine_error.h"

namespace amulet {

namespace {

// A conversation of every role a session renders, to try a template on once at load.
const std::vector<ChatMessage> & sample_conversation() {
    static const std::vector<ChatMessage> messages = {
        {"system", "You are a helpful assistant."},
        {"user", "Hello."},
        {"assistant", "Hello! How can I help?"},
        {"user", "What is 2 + 2?"},
    };
    return messages;
}

// llama.cpp's built-in renderer; a negative result when it does not know the template.
int32_t apply_builtin(const std::string & tmpl, const std::vector<ChatMessage> & messages, std::string & out) {
    std::vector<llama_chat_message> chat;
    chat.reserve(messages.size());
    size_t total = 0;
    for (const auto & message : messages) {
        chat.push_back({message.role.c_str(), message.content.c_str()});
        total += message.content.size();
    }
    out.assign(total * 2 + 256, '\0');
    int32_t n = llama_chat_apply_template(tmpl.c_str(), chat.data(), chat.size(), true, out.data(),
                                          static_cast<int32_t>(out.size()));
    if (n > static_cast<int32_t>(out.size())) {
        out.resize(static_cast<size_t>(n));
        n = llama_chat_apply_template(tmpl.c_str(), chat.data(), chat.size(), true, out.data(),
                                      static_cast<int32_t>(out.size()));
    }
    out.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return n;
}

// llama.cpp's Jinja errors quote the template over several lines, with a
// caret under the place: kept to the lines that say what went wrong.
std::string one_line(const std::string & message) {
    std::string joined;
    size_t start = 0;
    while (start <= message.size()) {
        size_t end = message.find('\n', start);
        if (end == std::string::npos) end = message.size();
        std::string line = message.substr(start, end - start);
        const size_t first = line.find_first_not_of(" \t\r");
        line = first == std::string::npos ? std::string() : line.substr(first, line.find_last_not_of(" \t\r") - first + 1);
        const bool quote = line.rfind("...", 0) == 0 || line.find_first_not_of("^-") == std::string::npos;
        if (!quote) joined += (joined.empty() ? "" : " ") + line;
        start = end + 1;
    }
    return joined;
}

}  // namespace

const char * chat_template_source_name(ChatTemplateSource source) {
    switch (source) {
        case ChatTemplateSource::Gguf: return "gguf";
        case ChatTemplateSource::Option: return "option";
        case ChatTemplateSource::Builtin: return "builtin";
        case ChatTemplateSource::ChatmlFallback: return "chatml-fallback";
    }
    return "chatml-fallback";
}

std::vector<const char *> builtin_template_names() {
    const int32_t count = llama_chat_builtin_templates(nullptr, 0);
    std::vector<const char *> names(static_cast<size_t>(count > 0 ? count : 0));
    llama_chat_builtin_templates(names.data(), names.size());
    return names;
}

bool is_builtin_template_name(const std::string & name) {
    for (const char * known : builtin_template_names()) {
        if (name == known) return true;
    }
    return false;
}

void ChatTemplate::TemplatesDeleter::operator()(common_chat_templates * templates) const {
    common_chat_templates_free(templates);
}

ChatTemplate::ChatTemplate(const llama_model * model, const std::string & option) {
    if (is_builtin_template_name(option)) {
        source_ = ChatTemplateSource::Builtin;
        text_ = option;
        return;
    }
    const char * from_file = llama_model_chat_template(model, nullptr);
    const std::string jinja_source = option.empty() ? std::string(from_file ? from_file : "") : option;
    if (jinja_source.empty()) {
        source_ = ChatTemplateSource::ChatmlFallback;
        text_ = "chatml";
        warning_ = "the model has no chat template: prompts are rendered as ChatML";
        return;
    }
    // Text without a Jinja tag would be rendered as it is, whatever the conversation: a misspelt name.
    if (!option.empty() && option.find("{{") == std::string::npos && option.find("{%") == std::string::npos) {
        std::string known;
        for (const char * name : builtin_template_names()) known += (known.empty() ? "" : ", ") + std::string(name);
        throw EngineError(error_code::kInvalidOption, "chatTemplate \"" + option +
                                                          "\" is neither a Jinja template nor a template name "
                                                          "llama.cpp knows (" + known + ")");
    }
    source_ = option.empty() ? ChatTemplateSource::Gguf : ChatTemplateSource::Option;
    text_ = jinja_source;
    try {
        // Parsed here first for its error message: common_chat_templates_init rethrows a bare std::exception.
        common_chat_template parsed(jinja_source, "", "");
        jinja_.reset(common_chat_templates_init(model, jinja_source).release());
        render_jinja(sample_conversation(), std::chrono::system_clock::now());
    } catch (const std::exception & error) {
        jinja_.reset();
        use_builtin_renderer(jinja_source, one_line(error.what()));
    }
}

ChatTemplate::~ChatTemplate() = default;

void ChatTemplate::use_builtin_renderer(const std::string & tmpl, const std::string & why) {
    const std::string what = source_ == ChatTemplateSource::Gguf ? "the GGUF's chat template" : "the chatTemplate given";
    std::string probe;
    if (apply_builtin(tmpl, sample_conversation(), probe) >= 0) {
        source_ = ChatTemplateSource::Builtin;
        warning_ = what + " failed as Jinja (" + why + "): rendered by llama.cpp's built-in renderer for it instead";
        return;
    }
    source_ = ChatTemplateSource::ChatmlFallback;
    text_ = "chatml";
    warning_ = what + " failed as Jinja (" + why + ") and llama.cpp's built-in renderer does not know it: "
               "prompts are rendered as ChatML";
}

std::string ChatTemplate::render_jinja(const std::vector<ChatMessage> & messages,
                                       std::chrono::system_clock::time_point now) const {
    common_chat_templates_inputs inputs;
    inputs.messages.reserve(messages.size());
    for (const auto & message : messages) {
        common_chat_msg converted;
        converted.role = message.role;
        converted.content = message.content;
        inputs.messages.push_back(std::move(converted));
    }
    inputs.use_jinja = true;
    inputs.add_generation_prompt = true;
    inputs.now = now;
    // Only the prompt is wanted: without this, common also derives a tool-call
    // parser from the template by rendering it many more times, and refuses a
    // custom template it cannot derive one from although it renders.
    inputs.force_pure_content = true;
    return common_chat_templates_apply(jinja_.get(), inputs).prompt;
}

std::string ChatTemplate::render(const std::vector<ChatMessage> & messages,
                                 std::chrono::system_clock::time_point now) const {
    if (jinja_) {
        try {
            return render_jinja(messages, now);
        } catch (const std::exception & error) {
            throw EngineError(error_code::kTemplate, "the chat template failed to render: " + one_line(error.what()));
        }
    }
    std::string out;
    if (apply_builtin(text_, messages, out) < 0) {
        throw EngineError(error_code::kTemplate, "could not render the chat template " + text_);
    }
    return out;
}

}  // namespace amulet
