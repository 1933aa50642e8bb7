#include "addon/promise_worker.h"

namespace amulet {

PromiseWorker::PromiseWorker(Napi::Env env, const char * resource_name)
    : Napi::AsyncWorker(env, resource_name), deferred_(Napi::Promise::Deferred::New(env)) {}

void PromiseWorker::Execute() {
    try {
        Compute();
    } catch (...) {
        error_ = DescribeFailure();
    }
}

}  // namespace amulet
