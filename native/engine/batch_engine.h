// The decode loop of one context: one thread that decodes the generations of
// every session of the context together, as llama.cpp's server decodes its
// slots.
//
// Each step builds ONE batch from every running generation's rows (its last
// token on the base sequence and on each preference's, or on its one
// sequence) and, in the room left up to the batch size, the prompt chunks of
// generations still evaluating their prompt; it calls llama_decode once, and
// each generation samples from its own rows with its own sampler chain, the
// realign sampler first.
//
// - A generation whose consumer does not keep up is left out of the steps
//   until its queue has room; an aborted one leaves within one step.
// - A generation that fails (a C++ exception, a decode it broke) fails
//   alone: a decode that fails for a reason no generation can be told
//   apart by is retried with each of its generations alone.
// - When the KV cache has no room for a step, idle sequences lose their
//   cache first (least recently used first); when none is left, the
//   generation admitted last fails with ERR_CONTEXT_FULL.
// - Generations that realign in the compute graph and those that realign on
//   the host take turns rather than share a step: a step with a host
//   sampler copies every raw row to the host, which the graph path exists to
//   avoid.
// - A generation needing more sequences than are idle waits, in order of
//   arrival, until others end.
//
// The thread runs while there is work and ends when there is none.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/decode_context.h"
#include "engine/engine_metrics.h"
#include "engine/generation.h"
#include "engine/generation_run.h"

namespace amulet {

class BatchEngine {
  public:
    BatchEngine(std::shared_ptr<LoadedModel> model, ContextOptions options);
    ~BatchEngine();  // aborts every generation and waits for the thread (within one step)
    BatchEngine(const BatchEngine &) = delete;
    BatchEngine & operator=(const BatchEngine &) = delete;

    /** A new session's id: the owner of the KV sequences its generations use. */
    SessionId new_session();

    /** Queues a generation; its run gets its tokens and outcome. */
    void submit(std::shared_ptr<GenerationRun> run);

    /** A session was disposed: its sequences are freed once its generation (if any) has ended. */
    void forget(SessionId session);

    /** A snapshot of the counters and the load. */
    EngineMetrics metrics() const;

    const ContextOptions & options() const { return options_; }
    bool shared() const { return options_.sequences > 0; }

  private:
    struct Member {
        std::shared_ptr<GenerationRun> run;
        std::unique_ptr<Generation> generation;
        uint64_t order = 0;          // admission order: the last admitted fails first when the cache is full
        bool suspect = false;        // in a step whose decode failed: decoded alone until one succeeds
        bool done = false;           // its outcome is published; removed at the next sweep
        int32_t step_tokens = 0;     // tokens it added to the step being decoded
    };

    void poke();
    void ensure_thread();  // with mutex_ held: starts the decode thread unless it runs
    void loop();
    void admit();
    bool runnable(const Member & member) const;
    bool build_step();
    void add_to_step(Member & member, int32_t & room);
    void decode_step();
    void after_step(double seconds);
    void after_failed_step(const ErrorInfo & error);
    void end(Member & member, ErrorInfo error = {});
    bool sweep();
    void shut_down();
    void update_load();
    static bool step_cancelled(void * engine);

    const std::shared_ptr<LoadedModel> model_;
    const ContextOptions options_;
    DecodeContext context_;  // the decode thread's alone, but for construction and destruction

    mutable std::mutex mutex_;
    std::condition_variable poked_;
    bool pending_poke_ = false;
    bool running_ = false;
    bool stopping_ = false;
    std::deque<std::shared_ptr<GenerationRun>> incoming_;
    std::vector<SessionId> forgotten_;
    SessionId next_session_ = 1;
    std::thread thread_;

    // The decode thread's own state.
    std::deque<std::unique_ptr<Member>> admissions_;  // waiting for sequences, in order of arrival
    std::vector<std::unique_ptr<Member>> members_;     // running
    std::vector<Member *> step_;                       // the members of the step being decoded
    std::vector<const std::atomic<bool> *> step_aborts_;
    std::atomic<bool> stop_flag_{false};
    bool backend_turn_ = false;  // which group the last step served, when both have work
    uint64_t admitted_ = 0;

    mutable std::mutex metrics_mutex_;
    EngineMetrics metrics_;
};

}  // namespace amulet
