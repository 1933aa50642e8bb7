#include "engine/generation_run.h"

namespace amulet {

GenerationRun::GenerationRun(GenerationRequest request, SessionId session,
                             std::chrono::system_clock::time_point conversation_start, size_t capacity)
    : request_(std::move(request)), session_(session), conversation_start_(conversation_start), capacity_(capacity) {}

void GenerationRun::connect(std::function<void()> wake, std::function<void()> on_end) {
    std::lock_guard<std::mutex> lock(mutex_);
    wake_ = std::move(wake);
    on_end_ = std::move(on_end);
}

bool GenerationRun::disconnect() {
    std::lock_guard<std::mutex> lock(mutex_);
    wake_ = nullptr;
    const bool owned = static_cast<bool>(on_end_);
    on_end_ = nullptr;
    return owned;
}

void GenerationRun::on_room(std::function<void()> notify) {
    std::lock_guard<std::mutex> lock(mutex_);
    on_room_ = std::move(notify);
}

void GenerationRun::abort() {
    abort_.store(true);
    std::function<void()> notify;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        notify = on_room_;
    }
    // The decode thread may be idle, waiting for work: it has to see the abort.
    if (notify) notify();
}

bool GenerationRun::finished() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return done_;
}

bool GenerationRun::has_room() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return queue_.size() < capacity_;
}

void GenerationRun::wake_if_waiting(std::unique_lock<std::mutex> & lock) {
    const bool waiting = consumer_waiting_;
    consumer_waiting_ = false;
    std::function<void()> wake = waiting ? wake_ : nullptr;
    lock.unlock();
    if (wake) wake();
}

void GenerationRun::push(GeneratedToken token) {
    std::unique_lock<std::mutex> lock(mutex_);
    queue_.push_back(std::move(token));
    wake_if_waiting(lock);
}

void GenerationRun::finish(GenerationOutcome outcome) {
    std::unique_lock<std::mutex> lock(mutex_);
    outcome_ = std::move(outcome);
    done_ = true;
    on_room_ = nullptr;
    std::function<void()> on_end = std::move(on_end_);
    on_end_ = nullptr;
    wake_if_waiting(lock);
    if (on_end) on_end();
}

bool GenerationRun::poll(std::vector<GeneratedToken> & tokens, std::optional<GenerationOutcome> & outcome) {
    std::function<void()> notify;
    std::unique_lock<std::mutex> lock(mutex_);
    const bool was_full = queue_.size() >= capacity_;
    const bool had_tokens = !queue_.empty();
    while (!queue_.empty()) {
        tokens.push_back(std::move(queue_.front()));
        queue_.pop_front();
    }
    if (done_) outcome = outcome_;
    if (!had_tokens && !done_) consumer_waiting_ = true;
    if (was_full) notify = on_room_;
    lock.unlock();
    if (notify) notify();
    return had_tokens || done_;
}

}  // namespace amulet
