// The CPU threads that decode at once, across every context of the process.
//
// Each llama.cpp context computes a step with its own thread pool, whose
// threads spin at the graph's barriers. Two contexts of two threads each on
// a two-core machine therefore do not share the cores: they take turns at
// every barrier, and both decode several times slower than one alone. Every
// decode holds a lease on its threads for as long as it runs, so the threads
// decoding at once never exceed the hardware threads: contexts that would
// oversubscribe the CPU take turns step by step instead.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace amulet {

/** A cancellation test polled while waiting, with llama.cpp's abort-callback signature (may be null: never). */
struct CancelCheck {
    bool (*cancelled)(void * data) = nullptr;
    void * data = nullptr;
    bool operator()() const { return cancelled != nullptr && cancelled(data); }
};

class ThreadBudget {
  public:
    /** The process's budget: one thread per hardware thread. */
    static ThreadBudget & process();

    explicit ThreadBudget(int32_t capacity);

    int32_t capacity() const { return capacity_; }

    /**
     * Waits until `threads` (at most the capacity: a context asking for more
     * than the machine has runs alone) are free, and takes them. Returns the
     * number taken, or 0 when `cancel` fired first.
     */
    int32_t acquire(int32_t threads, CancelCheck cancel);

    void release(int32_t threads);

  private:
    const int32_t capacity_;
    int32_t free_;
    std::mutex mutex_;
    std::condition_variable freed_;
};

/** Threads of the process's budget held for one decode (released on destruction). */
class ThreadLease {
  public:
    ThreadLease(int32_t threads, CancelCheck cancel)
        : taken_(ThreadBudget::process().acquire(threads, cancel)) {}
    ~ThreadLease() {
        if (taken_ > 0) ThreadBudget::process().release(taken_);
    }
    ThreadLease(const ThreadLease &) = delete;
    ThreadLease & operator=(const ThreadLease &) = delete;

    /** False when the wait was cancelled. */
    bool held() const { return taken_ > 0; }

  private:
    int32_t taken_;
};

}  // namespace amulet
