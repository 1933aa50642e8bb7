#include "engine/batch_engine.h"

#include <algorithm>
#include <chrono>

#include "engine/llama_calls.h"

namespace amulet {

namespace {

using Clock = std::chrono::steady_clock;

bool is_rpc_failure(const std::string & code) {
    return code == error_code::kRpcDisconnected || code == error_code::kRpcUnreachable ||
           code == error_code::kRpcVersion;
}

}  // namespace

BatchEngine::BatchEngine(std::shared_ptr<LoadedModel> model, ContextOptions options)
    : model_(model), options_(options), context_(std::move(model), options) {
    members_.reserve(static_cast<size_t>(std::max(options.sequences, 1)));
    step_.reserve(members_.capacity());
    step_aborts_.reserve(members_.capacity());
}

BatchEngine::~BatchEngine() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
        stop_flag_.store(true);
        pending_poke_ = true;
    }
    poked_.notify_all();
    if (thread_.joinable()) thread_.join();
    shut_down();
}

SessionId BatchEngine::new_session() {
    std::lock_guard<std::mutex> lock(mutex_);
    return next_session_++;
}

void BatchEngine::poke() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        pending_poke_ = true;
    }
    poked_.notify_all();
}

void BatchEngine::submit(std::shared_ptr<GenerationRun> run) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (stopping_) {
        lock.unlock();
        GenerationOutcome outcome;
        outcome.reason = FinishReason::Aborted;
        run->finish(std::move(outcome));
        return;
    }
    // Cleared by the run's finish(), which the engine always makes before it goes.
    run->on_room([this] { poke(); });
    incoming_.push_back(std::move(run));
    pending_poke_ = true;
    ensure_thread();
    lock.unlock();
    poked_.notify_all();
}

void BatchEngine::forget(SessionId session) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    forgotten_.push_back(session);
    pending_poke_ = true;
    ensure_thread();
    poked_.notify_all();
}

void BatchEngine::ensure_thread() {
    if (running_) return;
    // The last thread ended for want of work; it has left the loop already.
    if (thread_.joinable()) thread_.join();
    running_ = true;
    thread_ = std::thread([this] { loop(); });
}

EngineMetrics BatchEngine::metrics() const {
    std::lock_guard<std::mutex> lock(metrics_mutex_);
    return metrics_;
}

bool BatchEngine::step_cancelled(void * engine) {
    const auto * self = static_cast<const BatchEngine *>(engine);
    if (self->stop_flag_.load(std::memory_order_relaxed)) return true;
    // One generation's abort must not stop the others' step: only when all of them left.
    for (const std::atomic<bool> * abort : self->step_aborts_) {
        if (!abort->load(std::memory_order_relaxed)) return false;
    }
    return !self->step_aborts_.empty();
}

void BatchEngine::loop() {
    bool idle = false;
    std::vector<SessionId> forgotten;
    while (true) {
        {
            std::unique_lock<std::mutex> lock(mutex_);
            if (idle) poked_.wait(lock, [&] { return pending_poke_ || stopping_; });
            pending_poke_ = false;
            if (stopping_) return;  // the destructor ends what is left
            for (auto & run : incoming_) {
                auto member = std::make_unique<Member>();
                member->run = std::move(run);
                admissions_.push_back(std::move(member));
            }
            incoming_.clear();
            forgotten.swap(forgotten_);
            if (members_.empty() && admissions_.empty() && forgotten.empty()) {
                running_ = false;
                return;
            }
        }
        for (const SessionId session : forgotten) context_.forget(session);
        forgotten.clear();
        sweep();
        admit();
        idle = !build_step();
        if (!idle) {
            decode_step();
        } else if (sweep()) {
            idle = false;  // a generation ended while the step was built: its sequences may admit another
        }
        update_load();
    }
}

void BatchEngine::admit() {
    while (!admissions_.empty()) {
        Member & member = *admissions_.front();
        if (member.run->aborted()) {
            end(member);
            admissions_.pop_front();
            continue;
        }
        try {
            if (!member.generation) {
                member.generation = std::make_unique<Generation>(context_, member.run->request(),
                                                                 member.run->conversation_start());
            }
            const auto & prompts = member.generation->prompts();
            const auto needed = static_cast<int32_t>(prompts.size());
            // A private context grows by being made again, which only an idle context can be.
            if (!context_.shared() && context_.sequences() < needed && !members_.empty()) return;
            context_.reserve(needed);
            set_abort_callback(context_.get(), CancelCheck{step_cancelled, this});
            std::optional<std::vector<llama_seq_id>> sequences = context_.acquire(member.run->session(), prompts);
            if (!sequences) return;  // the first in line waits for others to end; the rest wait behind it
            try {
                member.generation->begin(*sequences);
            } catch (...) {
                context_.release(*sequences);
                throw;
            }
        } catch (...) {
            end(member, describe_failure(*model_));
            admissions_.pop_front();
            continue;
        }
        member.order = ++admitted_;
        {
            std::lock_guard<std::mutex> lock(metrics_mutex_);
            ++metrics_.generations_started;
        }
        members_.push_back(std::move(admissions_.front()));
        admissions_.pop_front();
    }
}

bool BatchEngine::runnable(const Member & member) const {
    return !member.done && !member.run->aborted() && !member.generation->finished() && member.run->has_room();
}

void BatchEngine::add_to_step(Member & member, int32_t & room) {
    try {
        member.step_tokens = member.generation->contribute(room);
    } catch (...) {
        end(member, describe_failure(*model_));
        return;
    }
    if (member.step_tokens == 0) return;
    room -= member.step_tokens;
    step_.push_back(&member);
}

bool BatchEngine::build_step() {
    step_.clear();
    step_aborts_.clear();
    if (context_.get() == nullptr) return false;
    context_.batch().clear();
    bool backend_work = false;
    bool host_work = false;
    Member * suspect = nullptr;
    for (const auto & member : members_) {
        if (!runnable(*member)) continue;
        (member->generation->on_backend() ? backend_work : host_work) = true;
        if (member->suspect && suspect == nullptr) suspect = member.get();
    }
    if (!backend_work && !host_work) return false;
    int32_t room = context_.batch().capacity();
    if (suspect != nullptr) {
        add_to_step(*suspect, room);
        return !step_.empty();
    }
    const bool backend = backend_work && host_work ? !backend_turn_ : backend_work;
    backend_turn_ = backend;
    // The running generations' rows first, then prompt chunks in the room left,
    // in order of arrival: a long prompt delays the others' next token by one
    // chunk's decode, never by its whole evaluation.
    for (const bool prompts : {false, true}) {
        for (const auto & member : members_) {
            if (room <= 0) break;
            if (!runnable(*member) || member->generation->on_backend() != backend ||
                member->generation->evaluating_prompt() != prompts) {
                continue;
            }
            add_to_step(*member, room);
        }
    }
    return !step_.empty();
}

void BatchEngine::decode_step() {
    bool prompt = false;
    for (Member * member : step_) {
        step_aborts_.push_back(&member->run->abort_flag());
        prompt = prompt || member->generation->evaluating_prompt();
    }
    const Clock::time_point start = Clock::now();
    try {
        checked_decode(*model_, context_.get(), context_.batch().get(), prompt ? "prompt" : "generation",
                       CancelCheck{step_cancelled, this}, "generation");
    } catch (...) {
        const ErrorInfo error = describe_failure(*model_);
        step_aborts_.clear();
        after_failed_step(error);
        return;
    }
    step_aborts_.clear();
    after_step(std::chrono::duration<double>(Clock::now() - start).count());
}

void BatchEngine::after_step(double seconds) {
    uint64_t generated = 0;
    uint64_t evaluated = 0;
    for (Member * member : step_) {
        if (member->done) continue;
        Generation & generation = *member->generation;
        member->suspect = false;
        if (generation.evaluating_prompt()) evaluated += static_cast<uint64_t>(member->step_tokens);
        try {
            if (std::optional<GeneratedToken> token = generation.after_decode()) {
                member->run->push(std::move(*token));
                ++generated;
            }
        } catch (...) {
            end(*member, describe_failure(*model_));
            continue;
        }
        if (generation.finished()) end(*member);
    }
    std::lock_guard<std::mutex> lock(metrics_mutex_);
    ++metrics_.steps;
    metrics_.generated_tokens += generated;
    metrics_.evaluated_tokens += evaluated;
    metrics_.step_seconds += seconds;
    const auto & bounds = EngineMetrics::kStepBuckets;
    const auto bucket = static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), seconds) - bounds.begin());
    ++metrics_.step_counts[bucket];
}

void BatchEngine::after_failed_step(const ErrorInfo & error) {
    // llama.cpp removed the failed micro-batch's tokens from the cache: so do the host lists.
    context_.kv().resync();
    for (Member * member : step_) {
        if (!member->done) member->generation->step_failed();
    }
    if (error.code == error_code::kAborted) return;  // every member of the step left, or the engine stops
    if (error.code == error_code::kContextFull) {
        const size_t freed = context_.evict_idle(static_cast<size_t>(context_.batch().size()));
        if (freed > 0) {
            std::lock_guard<std::mutex> lock(metrics_mutex_);
            ++metrics_.evictions;
            return;
        }
        Member * newest = nullptr;
        for (Member * member : step_) {
            if (!member->done && (newest == nullptr || member->order > newest->order)) newest = member;
        }
        if (newest != nullptr) {
            end(*newest, {error_code::kContextFull,
                          "no room left in the context's KV cache (" + std::to_string(context_.cells()) +
                              " cells shared by its sequences) for this generation"});
        }
        return;
    }
    // A lost RPC server fails every generation of the model; a failure that
    // one generation may have caused (an invalid batch) is told apart by
    // decoding each alone.
    const bool alone = step_.size() == 1;
    for (Member * member : step_) {
        if (member->done) continue;
        if (alone || is_rpc_failure(error.code)) {
            end(*member, error);
        } else {
            member->suspect = true;
        }
    }
}

void BatchEngine::end(Member & member, ErrorInfo error) {
    if (member.done) return;
    GenerationOutcome outcome;
    if (member.generation) {
        Generation & generation = *member.generation;
        outcome.stats = generation.stats();
        outcome.guidance_scale = generation.guidance_scale();
        outcome.mean_guidance_scale = generation.mean_guidance_scale();
        if (!error.is_set()) {
            outcome.reason = member.run->aborted() ? FinishReason::Aborted : generation.finish_reason();
            outcome.tail_text = generation.finish_text();
            outcome.stop_string = generation.stop_string();
        }
        context_.release(generation.sequences());
        member.generation.reset();
    } else if (!error.is_set()) {
        outcome.reason = FinishReason::Aborted;
    }
    if (error.code == error_code::kAborted) {
        outcome.reason = FinishReason::Aborted;
    } else if (error.is_set()) {
        outcome.error = std::move(error);
    }
    {
        std::lock_guard<std::mutex> lock(metrics_mutex_);
        ++metrics_.generations_finished;
        if (outcome.error.is_set()) ++metrics_.generations_failed;
    }
    member.done = true;
    member.run->finish(std::move(outcome));
}

bool BatchEngine::sweep() {
    bool removed = false;
    for (auto & member : members_) {
        if (!member->done && (member->run->aborted() || member->generation->finished())) end(*member);
    }
    const auto gone = std::remove_if(members_.begin(), members_.end(), [](const auto & member) { return member->done; });
    removed = gone != members_.end();
    members_.erase(gone, members_.end());
    for (auto it = admissions_.begin(); it != admissions_.end();) {
        if ((*it)->run->aborted()) {
            end(**it);
            it = admissions_.erase(it);
            removed = true;
        } else {
            ++it;
        }
    }
    return removed;
}

void BatchEngine::shut_down() {
    const ErrorInfo stopped{error_code::kAborted, "the context was disposed"};
    for (auto & member : members_) end(*member, stopped);
    members_.clear();
    for (auto & member : admissions_) end(*member, stopped);
    admissions_.clear();
    std::deque<std::shared_ptr<GenerationRun>> incoming;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        incoming.swap(incoming_);
    }
    for (auto & run : incoming) {
        GenerationOutcome outcome;
        outcome.reason = FinishReason::Aborted;
        run->finish(std::move(outcome));
    }
}

void BatchEngine::update_load() {
    std::lock_guard<std::mutex> lock(metrics_mutex_);
    metrics_.running = static_cast<int32_t>(members_.size());
    metrics_.waiting = static_cast<int32_t>(admissions_.size());
    metrics_.sequences = context_.sequences();
    metrics_.busy_sequences = context_.busy_sequences();
    metrics_.cells = context_.cells();
    metrics_.kv_tokens = context_.kv().total();
}

}  // namespace amulet
