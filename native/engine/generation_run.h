// One generation between the context's decode thread, which produces its
// tokens, and its consumer (JavaScript), which drains them: a bounded queue,
// the abort flag and, once it has ended, its outcome.
//
// A full queue pauses the generation (the decode thread leaves it out of its
// steps until the consumer has taken some), so a consumer that stops pulling
// costs the others nothing; abort() takes it out of the steps within one.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "engine/decode_context.h"
#include "engine/engine_error.h"
#include "engine/generation.h"

namespace amulet {

struct GenerationOutcome {
    FinishReason reason = FinishReason::Stop;
    GenerationStats stats;
    double guidance_scale = 0;
    double mean_guidance_scale = 0;
    std::string tail_text;  // text the UTF-8 stream and the stop strings held back until the end
    std::string stop_string;  // the stop string the generation ended at, if any
    ErrorInfo error;        // set when the generation failed
};

class GenerationRun {
  public:
    /**
     * `session` owns the KV sequences the generation decodes; its chat
     * template prints `conversation_start` (the session's start, the same
     * every turn, so that re-rendering keeps the prompt's token prefix).
     */
    GenerationRun(GenerationRequest request, SessionId session,
                  std::chrono::system_clock::time_point conversation_start, size_t capacity = 64);
    GenerationRun(const GenerationRun &) = delete;
    GenerationRun & operator=(const GenerationRun &) = delete;

    const GenerationRequest & request() const { return request_; }
    SessionId session() const { return session_; }
    std::chrono::system_clock::time_point conversation_start() const { return conversation_start_; }

    // The consumer's side (the JavaScript thread).

    /**
     * `wake` is called from the decode thread when a consumer that found
     * nothing may poll again; `on_end` once, after the outcome is published
     * (or at disconnect()), as the producer's last use of the run.
     */
    void connect(std::function<void()> wake, std::function<void()> on_end);
    /** Forgets the callbacks; returns true when on_end had not been called yet (the caller then owns its duty). */
    bool disconnect();
    /**
     * Non-blocking. Moves the queued tokens into `tokens` and, once the queue is
     * drained after the end, the outcome into `outcome`. Returns false when
     * there was nothing yet; the next event then calls wake().
     */
    bool poll(std::vector<GeneratedToken> & tokens, std::optional<GenerationOutcome> & outcome);
    /** Stops the generation within one decode step. */
    void abort();
    bool aborted() const { return abort_.load(std::memory_order_relaxed); }
    const std::atomic<bool> & abort_flag() const { return abort_; }
    bool finished() const;

    // The producer's side (the decode thread).

    /** Called (from the consumer's thread) when poll() made room in a full queue. */
    void on_room(std::function<void()> notify);
    /** True while the queue can take another token. */
    bool has_room() const;
    void push(GeneratedToken token);
    void finish(GenerationOutcome outcome);

  private:
    void wake_if_waiting(std::unique_lock<std::mutex> & lock);

    const GenerationRequest request_;
    const SessionId session_;
    const std::chrono::system_clock::time_point conversation_start_;
    const size_t capacity_;
    std::atomic<bool> abort_{false};

    mutable std::mutex mutex_;
    std::function<void()> wake_;
    std::function<void()> on_end_;
    std::function<void()> on_room_;
    std::deque<GeneratedToken> queue_;
    bool consumer_waiting_ = false;
    bool done_ = false;
    GenerationOutcome outcome_;
};

}  // namespace amulet
