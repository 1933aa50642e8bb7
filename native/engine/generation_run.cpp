#include "engine/generation_run.h"

namespace amulet {

GenerationRun::GenerationRun(std::shared_ptr<SessionContext> context, GenerationRequest request, size_t capacity)
    : context_(std::move(context)), request_(std::move(request)), capacity_(capacity) {}

GenerationRun::~GenerationRun() {
    abort();
    if (thread_.joinable()) thread_.join();
}

void GenerationRun::start(std::function<void()> wake, std::function<void()> on_exit) {
    wake_ = std::move(wake);
    on_exit_ = std::move(on_exit);
    thread_ = std::thread([this] { produce(); });
}

void GenerationRun::abort() {
    abort_.store(true);
    std::lock_guard<std::mutex> lock(mutex_);
    space_.notify_all();
}

bool GenerationRun::finished() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return done_;
}

void GenerationRun::notify_if_waiting(std::unique_lock<std::mutex> & lock) {
    const bool notify = consumer_waiting_;
    consumer_waiting_ = false;
    lock.unlock();
    if (notify && wake_) wake_();
}

bool GenerationRun::push(GeneratedToken token) {
    std::unique_lock<std::mutex> lock(mutex_);
    space_.wait(lock, [&] { return queue_.size() < capacity_ || abort_.load(); });
    if (abort_.load()) return false;
    queue_.push_back(std::move(token));
    notify_if_waiting(lock);
    return true;
}

void GenerationRun::produce() {
    GenerationOutcome outcome;
    std::optional<Generation> generation;
    try {
        generation.emplace(*context_, request_, &abort_);
        while (auto token = generation->next()) {
            if (!push(std::move(*token))) break;
        }
        outcome.reason = abort_.load() ? FinishReason::Aborted : generation->finish_reason();
        outcome.tail_text = generation->finish_text();
        outcome.stop_string = generation->stop_string();
    } catch (...) {
        outcome.error = describe_failure(context_->model());
        if (outcome.error.code == error_code::kAborted) {
            outcome.reason = FinishReason::Aborted;
            outcome.error = ErrorInfo{};
        }
    }
    if (generation) {
        outcome.stats = generation->stats();
        outcome.guidance_scale = generation->guidance_scale();
        outcome.mean_guidance_scale = generation->mean_guidance_scale();
    }
    generation.reset();
    // The run object lives as long as the JavaScript generation that reads it,
    // i.e. until a garbage collection that V8, unaware of the native memory
    // behind it, has no reason to run soon. Holding the context until then
    // would keep the session's KV cache (hundreds of MB) alive after
    // Session.dispose(). Released before the outcome is published, so a
    // caller that saw the end can rely on the session owning it alone.
    context_.reset();
    std::unique_lock<std::mutex> lock(mutex_);
    outcome_ = std::move(outcome);
    done_ = true;
    notify_if_waiting(lock);
    if (on_exit_) on_exit_();
}

bool GenerationRun::poll(std::vector<GeneratedToken> & tokens, std::optional<GenerationOutcome> & outcome) {
    std::lock_guard<std::mutex> lock(mutex_);
    const bool had_tokens = !queue_.empty();
    while (!queue_.empty()) {
        tokens.push_back(std::move(queue_.front()));
        queue_.pop_front();
    }
    if (had_tokens) space_.notify_one();
    if (done_) outcome = outcome_;
    if (had_tokens || done_) return true;
    consumer_waiting_ = true;
    return false;
}

}  // namespace amulet
