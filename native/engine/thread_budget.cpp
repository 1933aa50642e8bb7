#include "engine/thread_budget.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace amulet {

ThreadBudget & ThreadBudget::process() {
    static ThreadBudget budget(static_cast<int32_t>(std::max(1u, std::thread::hardware_concurrency())));
    return budget;
}

ThreadBudget::ThreadBudget(int32_t capacity) : capacity_(std::max(capacity, 1)), free_(capacity_) {}

int32_t ThreadBudget::acquire(int32_t threads, CancelCheck cancel) {
    const int32_t wanted = std::clamp(threads, 1, capacity_);
    std::unique_lock<std::mutex> lock(mutex_);
    // A waiter polls its cancellation: the abort flags it watches are set by
    // other threads that know nothing of this budget.
    constexpr auto kPoll = std::chrono::milliseconds(10);
    while (free_ < wanted) {
        if (cancel()) return 0;
        freed_.wait_for(lock, kPoll);
    }
    free_ -= wanted;
    return wanted;
}

void ThreadBudget::release(int32_t threads) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        free_ += threads;
    }
    freed_.notify_all();
}

}  // namespace amulet
