#include "addon/addon_scorer.h"

#include "addon/addon_errors.h"
#include "addon/addon_state.h"
#include "addon/generation_request_parser.h"
#include "engine/engine_error.h"

namespace amulet {

namespace {

class ScoreWorker : public Napi::AsyncWorker {
  public:
    ScoreWorker(Napi::Env env, std::shared_ptr<Scorer> scorer, ScoreRequest request,
                std::shared_ptr<std::atomic<bool>> abort, std::shared_ptr<std::atomic<bool>> busy)
        : Napi::AsyncWorker(env, "amulet:score"), deferred_(Napi::Promise::Deferred::New(env)),
          scorer_(std::move(scorer)), request_(std::move(request)), abort_(std::move(abort)), busy_(std::move(busy)) {}

    Napi::Promise promise() const { return deferred_.Promise(); }

  protected:
    void Execute() override {
        try {
            result_ = scorer_->score(request_, abort_.get());
        } catch (...) {
            error_ = describe_current_exception();
        }
    }

    void OnOK() override {
        Napi::Env env = Env();
        busy_->store(false);
        if (error_.is_set()) {
            deferred_.Reject(make_error(env, error_.code.c_str(), error_.message).Value());
            return;
        }
        Napi::Object object = Napi::Object::New(env);
        Napi::Array tokens = Napi::Array::New(env, result_.tokens.size());
        for (uint32_t i = 0; i < result_.tokens.size(); ++i) tokens.Set(i, result_.tokens[i]);
        object.Set("tokens", tokens);
        Napi::Float32Array log_probs = Napi::Float32Array::New(env, result_.log_probs.size());
        std::copy(result_.log_probs.begin(), result_.log_probs.end(), log_probs.Data());
        object.Set("logProbs", log_probs);
        object.Set("promptTokens", result_.prompt_tokens);
        object.Set("evaluatedTokens", result_.evaluated_tokens);
        object.Set("reusedTokens", result_.reused_tokens);
        object.Set("ms", result_.ms);
        deferred_.Resolve(object);
    }

  private:
    Napi::Promise::Deferred deferred_;
    std::shared_ptr<Scorer> scorer_;
    ScoreRequest request_;
    std::shared_ptr<std::atomic<bool>> abort_;
    std::shared_ptr<std::atomic<bool>> busy_;
    ScoreResult result_;
    ErrorInfo error_;
};

}  // namespace

void AddonScorer::Register(Napi::Env env, Napi::Object exports) {
    Napi::Function constructor = DefineClass(env, "AddonScorer",
                                             {
                                                 InstanceMethod<&AddonScorer::Score>("score"),
                                                 InstanceMethod<&AddonScorer::Dispose>("dispose"),
                                             });
    addon_state(env).scorer_constructor = Napi::Persistent(constructor);
    exports.Set("AddonScorer", constructor);
}

Napi::Object AddonScorer::Create(Napi::Env env, const std::shared_ptr<LoadedModel> & model, const Napi::Value & options) {
    Napi::Object object = addon_state(env).scorer_constructor.New({});
    // The context itself is created lazily, on the worker thread: it allocates the KV cache.
    Unwrap(object)->scorer_ = std::make_shared<Scorer>(model, parse_context_options(options));
    return object;
}

AddonScorer::AddonScorer(const Napi::CallbackInfo & info) : Napi::ObjectWrap<AddonScorer>(info) {}

Napi::Value AddonScorer::Score(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (!scorer_) throw make_error(env, "ERR_DISPOSED", "the scorer has been disposed");
    if (busy_->exchange(true)) throw make_error(env, "ERR_BUSY", "a score is already running on this scorer");
    abort_ = std::make_shared<std::atomic<bool>>(false);
    // AsyncWorker's contract: allocated here, deleted by node-addon-api once it has completed.
    auto * worker = new ScoreWorker(env, scorer_, parse_score_request(info[0]), abort_, busy_);
    worker->Queue();
    Napi::Object handle = Napi::Object::New(env);
    handle.Set("promise", worker->promise());
    handle.Set("abort", Napi::Function::New(env, [abort = abort_](const Napi::CallbackInfo &) { abort->store(true); },
                                            "abort"));
    return handle;
}

void AddonScorer::Dispose(const Napi::CallbackInfo & /*info*/) {
    if (abort_) abort_->store(true);
    scorer_.reset();
}

}  // namespace amulet
