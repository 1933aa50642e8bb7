#include "engine/llama_log.h"

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>

#include "llama.h"
#include "log.h"

namespace amulet {

namespace {

constexpr size_t kKeptLines = 4;

struct LogState {
    std::mutex mutex;
    std::deque<std::string> errors;
    std::string partial;  // llama.cpp may log one line in several calls
    bool echo = false;
};

LogState & log_state() {
    static LogState state;
    return state;
}

void on_llama_log(ggml_log_level level, const char * text, void * /*user_data*/) {
    LogState & state = log_state();
    if (state.echo) std::fputs(text, stderr);
    std::lock_guard<std::mutex> lock(state.mutex);
    const bool keeps = level == GGML_LOG_LEVEL_ERROR || level == GGML_LOG_LEVEL_WARN ||
                       (level == GGML_LOG_LEVEL_CONT && !state.partial.empty());
    if (!keeps) return;
    state.partial += text;
    if (state.partial.empty() || state.partial.back() != '\n') return;
    state.partial.pop_back();
    state.errors.push_back(std::move(state.partial));
    state.partial.clear();
    if (state.errors.size() > kKeptLines) state.errors.pop_front();
}

}  // namespace

void init_llama_backend() {
    static std::once_flag once;
    std::call_once(once, [] {
        const char * echo = std::getenv("AMULET_LOG");
        log_state().echo = echo != nullptr && echo[0] == '1';
        llama_log_set(on_llama_log, nullptr);
        // llama.cpp's `common` logs through a logger of its own (with its own
        // thread), which stays unused unless the log is echoed.
        if (!log_state().echo) common_log_set_verbosity_thold(-1);
        llama_backend_init();
    });
}

std::string take_llama_log_errors() {
    LogState & state = log_state();
    std::lock_guard<std::mutex> lock(state.mutex);
    std::string joined;
    for (const auto & line : state.errors) {
        if (!joined.empty()) joined += "; ";
        joined += line;
    }
    state.errors.clear();
    return joined;
}

}  // namespace amulet
