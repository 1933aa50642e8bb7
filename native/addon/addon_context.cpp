#include "addon/addon_context.h"

#include "addon/addon_errors.h"
#include "addon/addon_session.h"
#include "addon/addon_state.h"
#include "addon/generation_request_parser.h"

namespace amulet {

void AddonContext::Register(Napi::Env env, Napi::Object exports) {
    Napi::Function constructor = DefineClass(env, "AddonContext",
                                             {
                                                 InstanceMethod<&AddonContext::CreateSession>("createSession"),
                                                 InstanceMethod<&AddonContext::Metrics>("metrics"),
                                                 InstanceMethod<&AddonContext::Dispose>("dispose"),
                                             });
    addon_state(env).context_constructor = Napi::Persistent(constructor);
    exports.Set("AddonContext", constructor);
}

Napi::Object AddonContext::Create(Napi::Env env, const std::shared_ptr<LoadedModel> & model, const Napi::Value & options) {
    Napi::Object object = addon_state(env).context_constructor.New({});
    AddonContext * self = Unwrap(object);
    // The llama.cpp context itself is created lazily, on the decode thread: it allocates the KV cache.
    self->engine_ = std::make_shared<BatchEngine>(model, parse_context_options(options));
    self->env_ = env;
    // A decode thread still running when the environment goes would outlive what it reports to.
    napi_add_env_cleanup_hook(env, StopAtTeardown, self);
    return object;
}

AddonContext::AddonContext(const Napi::CallbackInfo & info) : Napi::ObjectWrap<AddonContext>(info) {}

AddonContext::~AddonContext() {
    if (env_ != nullptr) napi_remove_env_cleanup_hook(env_, StopAtTeardown, this);
}

void AddonContext::StopAtTeardown(void * self) { static_cast<AddonContext *>(self)->engine_.reset(); }

Napi::Value AddonContext::CreateSession(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (!engine_) throw make_error(env, "ERR_DISPOSED", "the context has been disposed");
    return AddonSession::Create(env, engine_);
}

Napi::Value AddonContext::Metrics(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (!engine_) throw make_error(env, "ERR_DISPOSED", "the context has been disposed");
    const EngineMetrics metrics = engine_->metrics();
    Napi::Object result = Napi::Object::New(env);
    result.Set("generationsStarted", static_cast<double>(metrics.generations_started));
    result.Set("generationsFinished", static_cast<double>(metrics.generations_finished));
    result.Set("generationsFailed", static_cast<double>(metrics.generations_failed));
    result.Set("generatedTokens", static_cast<double>(metrics.generated_tokens));
    result.Set("evaluatedTokens", static_cast<double>(metrics.evaluated_tokens));
    result.Set("steps", static_cast<double>(metrics.steps));
    result.Set("evictions", static_cast<double>(metrics.evictions));
    result.Set("running", metrics.running);
    result.Set("waiting", metrics.waiting);
    result.Set("sequences", metrics.sequences);
    result.Set("busySequences", metrics.busy_sequences);
    result.Set("cells", static_cast<double>(metrics.cells));
    result.Set("kvTokens", static_cast<double>(metrics.kv_tokens));
    const auto & bounds = EngineMetrics::kStepBuckets;
    Napi::Array buckets = Napi::Array::New(env, bounds.size());
    Napi::Array counts = Napi::Array::New(env, metrics.step_counts.size());
    for (uint32_t i = 0; i < bounds.size(); ++i) buckets.Set(i, bounds[i]);
    for (uint32_t i = 0; i < metrics.step_counts.size(); ++i) counts.Set(i, static_cast<double>(metrics.step_counts[i]));
    Napi::Object histogram = Napi::Object::New(env);
    histogram.Set("bounds", buckets);
    histogram.Set("counts", counts);
    histogram.Set("sum", metrics.step_seconds);
    result.Set("stepSeconds", histogram);
    return result;
}

void AddonContext::Dispose(const Napi::CallbackInfo & /*info*/) { engine_.reset(); }

}  // namespace amulet
