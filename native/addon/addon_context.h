// JS class `AddonContext`: one llama.cpp context and its decode thread
// (BatchEngine), shared by the sessions made on it.
#pragma once

#include <napi.h>

#include <memory>

#include "engine/batch_engine.h"

namespace amulet {

class AddonContext : public Napi::ObjectWrap<AddonContext> {
  public:
    static void Register(Napi::Env env, Napi::Object exports);
    /** A context of `model` for `options` ({ contextSize, threads, batchSize, sequences, cacheSize }). */
    static Napi::Object Create(Napi::Env env, const std::shared_ptr<LoadedModel> & model, const Napi::Value & options);
    explicit AddonContext(const Napi::CallbackInfo & info);
    ~AddonContext() override;

  private:
    // [sync] () => NativeSession: a session whose generations decode on this context. Throws ERR_DISPOSED.
    Napi::Value CreateSession(const Napi::CallbackInfo & info);
    // [sync] () => NativeContextMetrics: the decode loop's counters and load. Throws ERR_DISPOSED.
    Napi::Value Metrics(const Napi::CallbackInfo & info);
    // [sync] () => void. Aborts what still runs; the context is freed once its sessions are gone too.
    void Dispose(const Napi::CallbackInfo & info);

    static void StopAtTeardown(void * self);

    std::shared_ptr<BatchEngine> engine_;
    napi_env env_ = nullptr;
};

}  // namespace amulet
