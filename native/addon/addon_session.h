// JS class `AddonSession`: one llama.cpp context (all of a session's
// sequences). Generations run on it one at a time.
#pragma once

#include <napi.h>

#include <memory>

#include "engine/generation_run.h"
#include "engine/session_context.h"

namespace amulet {

class AddonSession : public Napi::ObjectWrap<AddonSession> {
  public:
    static void Register(Napi::Env env, Napi::Object exports);
    static Napi::Object Create(Napi::Env env, const std::shared_ptr<LoadedModel> & model, Napi::Object options);
    explicit AddonSession(const Napi::CallbackInfo & info);

  private:
    // [sync] (request: NativeGenerationRequest) => AddonGeneration; the work runs on its own thread.
    // Throws ERR_DISPOSED, ERR_BUSY (a generation is still running), ERR_INVALID_OPTION.
    Napi::Value Generate(const Napi::CallbackInfo & info);
    // [sync] () => void. Aborts a running generation; the context is freed once it has stopped.
    void Dispose(const Napi::CallbackInfo & info);

    std::shared_ptr<SessionContext> context_;
    std::weak_ptr<GenerationRun> active_;
};

}  // namespace amulet
