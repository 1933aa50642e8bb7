#include "engine/stop_matcher.h"

#include <algorithm>

namespace amulet {

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}

std::string StopMatcher::push(std::string_view text) {
    if (!matched_.empty()) return {};
    if (stops_.empty()) return std::string(text);
    pending_.append(text);
    // The stop string whose end comes first is where a generation fed one
    // character at a time would have stopped; the outcome must not depend
    // on how the text was cut into pieces.
    size_t best_end = std::string::npos;
    size_t best_start = 0;
    const std::string * best = nullptr;
    for (const std::string & stop : stops_) {
        const size_t start = pending_.find(stop);
        if (start == std::string::npos) continue;
        const size_t end = start + stop.size();
        if (end < best_end || (end == best_end && start < best_start)) {
            best_end = end;
            best_start = start;
            best = &stop;
        }
    }
    if (best != nullptr) {
        matched_ = *best;
        std::string emitted = pending_.substr(0, best_start);
        pending_.clear();
        return emitted;
    }
    const size_t held = held_tail();
    std::string emitted = pending_.substr(0, pending_.size() - held);
    pending_.erase(0, pending_.size() - held);
    return emitted;
}

// The longest tail of the pending text that a stop string begins with (but
// is not: that would have matched). It starts where a stop string starts, so
// on a character boundary.
size_t StopMatcher::held_tail() const {
    size_t longest = 0;
    for (const std::string & stop : stops_) {
        for (size_t length = std::min(pending_.size(), stop.size() - 1); length > longest; --length) {
            if (pending_.compare(pending_.size() - length, length, stop, 0, length) == 0) {
                longest = length;
                break;
            }
        }
    }
    return longest;
}

std::string StopMatcher::finish() {
    std::string rest;
    rest.swap(pending_);
    return matched_.empty() ? rest : std::string();
}

}  // namespace amulet
