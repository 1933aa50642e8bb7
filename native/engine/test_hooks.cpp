#include "engine/test_hooks.h"

#if defined(AMULET_TEST_HOOKS)

#include <atomic>
#include <mutex>

namespace amulet::test_hooks {

namespace {

std::mutex fault_mutex;
Fault armed_fault;
std::atomic<bool> ceiling_on{false};
std::atomic<bool> plain_cpu_weights_on{false};

}  // namespace

void arm_fault(Fault fault) {
    std::lock_guard<std::mutex> lock(fault_mutex);
    armed_fault = fault;
}

Fault take_fault() {
    std::lock_guard<std::mutex> lock(fault_mutex);
    const Fault fault = armed_fault;
    armed_fault = Fault{};
    return fault;
}

void set_ceiling(bool on) { ceiling_on.store(on); }

bool ceiling() { return ceiling_on.load(); }

void set_plain_cpu_weights(bool on) { plain_cpu_weights_on.store(on); }

bool plain_cpu_weights() { return plain_cpu_weights_on.load(); }

}  // namespace amulet::test_hooks

#endif
