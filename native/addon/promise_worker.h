// An AsyncWorker that settles a promise: Compute() runs on a libuv worker
// thread, and whatever it throws rejects the promise as an AmuletError with
// its code; otherwise Result() resolves it, on the JavaScript thread.
#pragma once

#include <napi.h>

#include "addon/addon_errors.h"
#include "engine/engine_error.h"

namespace amulet {

class PromiseWorker : public Napi::AsyncWorker {
  public:
    Napi::Promise promise() const { return deferred_.Promise(); }

  protected:
    PromiseWorker(Napi::Env env, const char * resource_name);

    /** The slow part, off the JavaScript thread; may throw. */
    virtual void Compute() = 0;
    /** The value the promise resolves with, once Compute() has returned. */
    virtual Napi::Value Result(Napi::Env env) = 0;
    /** The error of what Compute() threw (called inside the catch block). */
    virtual ErrorInfo DescribeFailure() const { return describe_current_exception(); }
    /**
     * Settles the promise once Compute() has returned, on the JavaScript
     * thread: at once, unless a worker whose own callbacks are still queued
     * settles it behind them (with Settle()).
     */
    virtual void Deliver() { Settle(Env(), deferred_, error_, [this](Napi::Env env) { return Result(env); }); }

    const Napi::Promise::Deferred & deferred() const { return deferred_; }
    const ErrorInfo & error() const { return error_; }

    /** Rejects `deferred` with `error` when it is set, else resolves it with `result(env)`. */
    template <typename MakeResult>
    static void Settle(Napi::Env env, const Napi::Promise::Deferred & deferred, const ErrorInfo & error,
                       MakeResult && result) {
        Napi::HandleScope scope(env);
        if (error.is_set()) {
            deferred.Reject(make_error(env, error.code.c_str(), error.message).Value());
        } else {
            deferred.Resolve(result(env));
        }
    }

  private:
    void Execute() final;
    void OnOK() final { Deliver(); }

    Napi::Promise::Deferred deferred_;
    ErrorInfo error_;
};

}  // namespace amulet
