#include "addon/addon_beam_search.h"

#include <atomic>
#include <memory>

#include "addon/addon_model.h"
#include "addon/generation_request_parser.h"
#include "addon/promise_worker.h"
#include "engine/beam_search.h"

namespace amulet {

namespace {

class BeamSearchWorker : public PromiseWorker {
  public:
    BeamSearchWorker(Napi::Env env, std::shared_ptr<LoadedModel> model, BeamSearchRequest request,
                     std::shared_ptr<std::atomic<bool>> abort)
        : PromiseWorker(env, "amulet:beamSearch"), model_(model), search_(std::move(model), std::move(request)),
          abort_(std::move(abort)) {}

  protected:
    void Compute() override { result_ = search_.run(abort_.get()); }

    // A lost RPC server explains whatever llama.cpp failed at after it.
    ErrorInfo DescribeFailure() const override { return describe_failure(*model_); }

    Napi::Value Result(Napi::Env env) override {
        Napi::Object object = Napi::Object::New(env);
        object.Set("text", result_.text);
        Napi::Array tokens = Napi::Array::New(env, result_.tokens.size());
        for (uint32_t i = 0; i < result_.tokens.size(); ++i) tokens.Set(i, result_.tokens[i]);
        object.Set("tokens", tokens);
        object.Set("sumLogProb", result_.sum_log_prob);
        object.Set("score", result_.score);
        object.Set("stopped", result_.stopped);
        object.Set("promptTokens", result_.prompt_tokens);
        object.Set("decodedTokens", result_.decoded_tokens);
        object.Set("promptMs", result_.prompt_ms);
        object.Set("generationMs", result_.generation_ms);
        return object;
    }

  private:
    std::shared_ptr<LoadedModel> model_;
    BeamSearch search_;
    std::shared_ptr<std::atomic<bool>> abort_;
    BeamSearchResult result_;
};

}  // namespace

Napi::Value BeamSearchStart(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    const AddonModel * model = AddonModel::Unwrap(info[0].As<Napi::Object>());
    const std::shared_ptr<LoadedModel> & loaded = model->model(env);
    auto abort = std::make_shared<std::atomic<bool>>(false);
    // AsyncWorker's contract: allocated here, deleted by node-addon-api once it has completed.
    auto * worker = new BeamSearchWorker(env, loaded, parse_beam_search_request(info[1]), abort);
    worker->Queue();
    Napi::Object handle = Napi::Object::New(env);
    handle.Set("promise", worker->promise());
    handle.Set("abort", Napi::Function::New(env, [abort](const Napi::CallbackInfo &) { abort->store(true); }, "abort"));
    return handle;
}

}  // namespace amulet
