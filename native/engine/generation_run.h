// One generation running on its own thread: the decode loop produces tokens
// into a bounded queue that the consumer (JavaScript) drains. A full queue
// pauses the producer, so a consumer that stops pulling costs nothing; abort()
// stops the loop within one token, also during prompt evaluation.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "engine/engine_error.h"
#include "engine/generation.h"
#include "engine/session_context.h"

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
    GenerationRun(std::shared_ptr<SessionContext> context, GenerationRequest request, size_t capacity = 64);
    ~GenerationRun();  // aborts and joins
    GenerationRun(const GenerationRun &) = delete;
    GenerationRun & operator=(const GenerationRun &) = delete;

    /**
     * Starts the producer thread. `wake` is called from it when a consumer that
     * found nothing may poll again; `on_exit` once, as the thread's last act.
     */
    void start(std::function<void()> wake, std::function<void()> on_exit);
    void abort();
    bool finished() const;

    /**
     * Non-blocking. Moves the queued tokens into `tokens` and, once the queue is
     * drained after the end, the outcome into `outcome`. Returns false when
     * there was nothing yet; the next event then calls wake().
     */
    bool poll(std::vector<GeneratedToken> & tokens, std::optional<GenerationOutcome> & outcome);

  private:
    void produce();
    bool push(GeneratedToken token);
    void notify_if_waiting(std::unique_lock<std::mutex> & lock);

    std::shared_ptr<SessionContext> context_;  // held while the producer runs, released as it ends
    const GenerationRequest request_;
    const size_t capacity_;
    std::function<void()> wake_;
    std::function<void()> on_exit_;
    std::atomic<bool> abort_{false};

    mutable std::mutex mutex_;
    std::condition_variable space_;
    std::deque<GeneratedToken> queue_;
    bool consumer_waiting_ = false;
    bool done_ = false;
    GenerationOutcome outcome_;
    std::thread thread_;
};

}  // namespace amulet
