// JS class `AddonScorer`: a Scorer (engine/scorer.h) with its own context,
// created by AddonModel.createScorer(). Each score() runs on a libuv worker
// thread; one at a time.
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>

#include "engine/scorer.h"

namespace amulet {

class AddonScorer : public Napi::ObjectWrap<AddonScorer> {
  public:
    static void Register(Napi::Env env, Napi::Object exports);
    static Napi::Object Create(Napi::Env env, const std::shared_ptr<LoadedModel> & model, const Napi::Value & options);
    explicit AddonScorer(const Napi::CallbackInfo & info);

  private:
    // [async] (request: NativeScoreRequest) => { promise: Promise<NativeScoreResult>, abort(): void }.
    // Throws ERR_DISPOSED, ERR_BUSY (a score is still running); the promise rejects with
    // ERR_INVALID_OPTION, ERR_CONTEXT_FULL, ERR_CONTEXT_CREATE, ERR_DECODE, ERR_ABORTED, ERR_TEMPLATE.
    Napi::Value Score(const Napi::CallbackInfo & info);
    // [sync] () => void. Aborts a running score; the context is freed once it has stopped.
    void Dispose(const Napi::CallbackInfo & info);

    std::shared_ptr<Scorer> scorer_;
    std::shared_ptr<std::atomic<bool>> busy_ = std::make_shared<std::atomic<bool>>(false);
    std::shared_ptr<std::atomic<bool>> abort_;
};

}  // namespace amulet
