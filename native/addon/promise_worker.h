// An AsyncWorker that settles a promise: Compute() runs on a libuv worker
// thread, and whatever it throws rejects the promise as an AmuletError with
// its code; otherwise Result() resolves it, on the JavaScript thread.
#pragma once

#include <napi.h>

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

  private:
    void Execute() final;
    void OnOK() final;

    Napi::Promise::Deferred deferred_;
    ErrorInfo error_;
};

}  // namespace amulet
