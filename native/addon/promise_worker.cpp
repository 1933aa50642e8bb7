#include "addon/promise_worker.h"

#include "addon/addon_errors.h"

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

void PromiseWorker::OnOK() {
    Napi::Env env = Env();
    if (error_.is_set()) {
        deferred_.Reject(make_error(env, error_.code.c_str(), error_.message).Value());
    } else {
        deferred_.Resolve(Result(env));
    }
}

}  // namespace amulet
