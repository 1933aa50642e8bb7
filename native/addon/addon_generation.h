// JS class `AddonGeneration`: the JavaScript end of a GenerationRun. next()
// resolves with every token produced since the last call (waiting for at
// least one), so the consumer's pace is the backpressure.
#pragma once

#include <napi.h>

#include <memory>

#include "engine/batch_engine.h"
#include "engine/generation_run.h"

namespace amulet {

struct GenerationChannel;

class AddonGeneration : public Napi::ObjectWrap<AddonGeneration> {
  public:
    static void Register(Napi::Env env, Napi::Object exports);
    /** Submits `run` to `engine` and returns its JS handle. */
    static Napi::Object Start(Napi::Env env, std::shared_ptr<GenerationRun> run,
                              const std::shared_ptr<BatchEngine> & engine);
    explicit AddonGeneration(const Napi::CallbackInfo & info);
    ~AddonGeneration() override;

  private:
    // [async] () => Promise<NativeStep>: { tokens: NativeToken[], outcome?: NativeOutcome }.
    // Throws ERR_BUSY if a previous next() is still pending.
    Napi::Value Next(const Napi::CallbackInfo & info);
    // [sync] () => void. Stops the generation within one token.
    void Abort(const Napi::CallbackInfo & info);

    std::shared_ptr<GenerationChannel> channel_;
};

}  // namespace amulet
