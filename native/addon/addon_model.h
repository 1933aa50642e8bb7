// JS class `AddonModel`: a loaded GGUF model. Created only by loadModel().
#pragma once

#include <napi.h>

#include <memory>

#include "engine/loaded_model.h"

namespace amulet {

class AddonModel : public Napi::ObjectWrap<AddonModel> {
  public:
    static void Register(Napi::Env env, Napi::Object exports);
    explicit AddonModel(const Napi::CallbackInfo & info);

    /** A new JS AddonModel owning (a share of) `model`. */
    static Napi::Object NewInstance(Napi::Env env, std::shared_ptr<LoadedModel> model);

    /** The model, or throws ERR_DISPOSED. */
    const std::shared_ptr<LoadedModel> & model(Napi::Env env) const;

  private:

    // [sync] () => ModelInfo. Throws ERR_DISPOSED.
    Napi::Value Info(const Napi::CallbackInfo & info);
    // [sync] (options: { contextSize, threads, batchSize, sequences, cacheSize }) => AddonContext. Throws ERR_DISPOSED.
    Napi::Value CreateContext(const Napi::CallbackInfo & info);
    // [sync] (options: { contextSize, threads, batchSize }) => AddonScorer. Throws ERR_DISPOSED.
    Napi::Value CreateScorer(const Napi::CallbackInfo & info);
    // [async] (systemPrompt: string, turns: { role, content }[]) => Promise<string>: the conversation
    // rendered with the chat template, the assistant's turn opened. Throws ERR_DISPOSED; rejects with ERR_TEMPLATE.
    Napi::Value FormatChat(const Napi::CallbackInfo & info);
    // [sync] () => void. Drops this handle's share of the weights (sessions keep theirs).
    void Dispose(const Napi::CallbackInfo & info);

    std::shared_ptr<LoadedModel> model_;
};

/** [async] loadModel(path, { gpuLayers, useMmap, chatTemplate, rpcServers, tensorSplit }, onProgress?)
 *  => Promise<AddonModel>. Rejects with ERR_MODEL_LOAD, ERR_INVALID_OPTION, ERR_RPC_UNREACHABLE,
 *  ERR_RPC_VERSION, ERR_RPC_DISCONNECTED or ERR_ABORTED. */
Napi::Value LoadModel(const Napi::CallbackInfo & info);

}  // namespace amulet
