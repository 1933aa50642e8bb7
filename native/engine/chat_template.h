// The chat template a model's prompts are rendered with, chosen once when the
// model loads. Jinja templates (the GGUF's own, or text the user gives) are
// rendered by llama.cpp's `common` chat-template engine, as llama-server
// renders them; llama.cpp's built-in renderer (llama_chat_apply_template)
// serves the template names it knows and is the fallback when a Jinja
// template cannot be parsed or rendered.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "llama.h"

struct common_chat_templates;

namespace amulet {

struct ChatMessage {
    std::string role;  // "system", "user" or "assistant"
    std::string content;
};

/** Where the template prompts are rendered with came from (ModelInfo.chatTemplateSource). */
enum class ChatTemplateSource {
    Gguf,            // the GGUF's tokenizer.chat_template, through Jinja
    Option,          // Jinja text given as the chatTemplate option
    Builtin,         // a template name llama.cpp knows, or its renderer as a fallback
    ChatmlFallback,  // ChatML, when nothing else could be used
};

const char * chat_template_source_name(ChatTemplateSource source);

/** llama.cpp's built-in template names (chatml, gemma, llama3, ...). */
std::vector<const char *> builtin_template_names();

/** Whether `name` is one of builtin_template_names(). */
bool is_builtin_template_name(const std::string & name);

class ChatTemplate {
  public:
    /**
     * Chooses the template: `option` when not empty (a built-in name, else
     * Jinja text), else the GGUF's. A Jinja template is parsed and rendered
     * once on a sample conversation here; when that fails, the template is
     * handed to llama.cpp's built-in renderer, and when that does not know it
     * either, ChatML is used. Never throws for a bad template: warning() says
     * what was used instead. Throws EngineError(ERR_INVALID_OPTION) for an
     * option that is neither a template name nor Jinja (no tag at all).
     */
    ChatTemplate(const llama_model * model, const std::string & option);
    ~ChatTemplate();
    ChatTemplate(const ChatTemplate &) = delete;
    ChatTemplate & operator=(const ChatTemplate &) = delete;

    /**
     * Renders `messages` with the assistant's turn opened. `now` is the time a
     * template may print (strftime_now, date_string): the same `now` renders
     * the same text, so a conversation re-rendered each turn keeps its token
     * prefix. Thread-safe. Throws EngineError(ERR_TEMPLATE).
     */
    std::string render(const std::vector<ChatMessage> & messages, std::chrono::system_clock::time_point now) const;

    ChatTemplateSource source() const { return source_; }
    /** The Jinja source, or the name (or text) given to llama.cpp's built-in renderer. */
    const std::string & text() const { return text_; }
    /** Why the template asked for is not the one used; empty when it is. */
    const std::string & warning() const { return warning_; }

  private:
    struct TemplatesDeleter {
        void operator()(common_chat_templates * templates) const;
    };

    std::string render_jinja(const std::vector<ChatMessage> & messages,
                             std::chrono::system_clock::time_point now) const;
    void use_builtin_renderer(const std::string & tmpl, const std::string & why);

    std::unique_ptr<common_chat_templates, TemplatesDeleter> jinja_;  // null: the built-in renderer
    ChatTemplateSource source_ = ChatTemplateSource::ChatmlFallback;
    std::string text_;
    std::string warning_;
};

}  // namespace amulet
