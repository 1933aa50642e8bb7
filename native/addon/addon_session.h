// JS class `AddonSession`: a conversation on a context. Its generations run
// one at a time, on the context's decode thread, together with those of the
// context's other sessions; the KV sequences they leave hold its cache for
// the next turn.
#pragma once

#include <napi.h>

#include <chrono>
#include <memory>

#include "engine/batch_engine.h"

namespace amulet {

class AddonSession : public Napi::ObjectWrap<AddonSession> {
  public:
    static void Register(Napi::Env env, Napi::Object exports);
    static Napi::Object Create(Napi::Env env, const std::shared_ptr<BatchEngine> & engine);
    explicit AddonSession(const Napi::CallbackInfo & info);

  private:
    // [sync] (request: NativeGenerationRequest) => AddonGeneration; the work runs on the context's decode thread.
    // Throws ERR_DISPOSED, ERR_BUSY (a generation is still running), ERR_INVALID_OPTION.
    Napi::Value Generate(const Napi::CallbackInfo & info);
    // [sync] () => void. Aborts a running generation; its sequences are freed once it has stopped.
    void Dispose(const Napi::CallbackInfo & info);

    std::shared_ptr<BatchEngine> engine_;
    SessionId id_ = 0;
    // The time its chat template prints (a date, a time), the same every turn,
    // so that re-rendering the conversation keeps its token prefix.
    std::chrono::system_clock::time_point created_ = std::chrono::system_clock::now();
    std::weak_ptr<GenerationRun> active_;
};

}  // namespace amulet
