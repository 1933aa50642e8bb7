#include "addon/addon_generation.h"

#include <cstring>
#include <optional>

#include "addon/addon_errors.h"
#include "addon/addon_state.h"

namespace amulet {

// JS-thread state shared with the thread-safe function's callbacks, so a
// wake-up that arrives after the JS object is gone finds nothing to do.
struct GenerationChannel {
    std::shared_ptr<GenerationRun> run;
    Napi::ThreadSafeFunction wake;  // released by the decode thread once the outcome is published
    std::optional<Napi::Promise::Deferred> pending;
    napi_env env = nullptr;

    ~GenerationChannel() {
        napi_remove_env_cleanup_hook(env, StopAtTeardown, this);
        // A generation nobody can read any more is not worth decoding.
        if (run) run->abort();
    }

    // At environment teardown the decode thread may still be running: it must
    // not call the thread-safe function Node is closing. Cut it off, and
    // release the function here if it had not done so yet.
    static void StopAtTeardown(void * self) {
        auto * channel = static_cast<GenerationChannel *>(self);
        if (!channel->run) return;
        channel->run->abort();
        if (channel->run->disconnect()) channel->wake.Release();
        channel->run.reset();
    }

    void deliver(Napi::Env env_now);
};

namespace {

Napi::Float32Array float_array(Napi::Env env, const std::vector<float> & values) {
    Napi::Float32Array array = Napi::Float32Array::New(env, values.size());
    if (!values.empty()) std::memcpy(array.Data(), values.data(), values.size() * sizeof(float));
    return array;
}

Napi::Object trace_object(Napi::Env env, const TokenTrace & trace, const TraceTexts & texts) {
    Napi::Object object = Napi::Object::New(env);
    object.Set("baseText", texts.base);
    object.Set("preferenceText", texts.preference);
    object.Set("realignedText", texts.realigned);
    object.Set("baseToken", trace.base_token);
    object.Set("baseProbability", trace.base_prob);
    object.Set("preferenceToken", trace.pref_token);
    object.Set("preferenceProbability", trace.pref_prob);
    object.Set("realignedToken", trace.realigned_token);
    object.Set("realignedProbability", trace.realigned_prob);
    object.Set("klDivergence", trace.kl_realigned_base);
    return object;
}

Napi::Object token_object(Napi::Env env, const GeneratedToken & token) {
    Napi::Object object = Napi::Object::New(env);
    object.Set("token", token.token);
    object.Set("text", token.text);
    if (token.trace) object.Set("trace", trace_object(env, *token.trace, token.trace_texts));
    if (!token.captured_rows.empty()) {
        Napi::Array rows = Napi::Array::New(env, token.captured_rows.size());
        for (uint32_t i = 0; i < token.captured_rows.size(); ++i) rows.Set(i, float_array(env, token.captured_rows[i]));
        Napi::Object capture = Napi::Object::New(env);
        capture.Set("rows", rows);
        capture.Set("realignedLogProbs", float_array(env, token.captured_log_probs));
        capture.Set("guidanceScale", token.captured_scale);
        if (!token.captured_guard_tokens.empty()) {
            Napi::Array sets = Napi::Array::New(env, token.captured_guard_tokens.size());
            for (uint32_t j = 0; j < token.captured_guard_tokens.size(); ++j) {
                const std::vector<int32_t> & ids = token.captured_guard_tokens[j];
                Napi::Array set = Napi::Array::New(env, ids.size());
                for (uint32_t k = 0; k < ids.size(); ++k) set.Set(k, ids[k]);
                sets.Set(j, set);
            }
            capture.Set("echoGuardTokens", sets);
        }
        object.Set("capture", capture);
    }
    return object;
}

Napi::Object outcome_object(Napi::Env env, const GenerationOutcome & outcome) {
    Napi::Object object = Napi::Object::New(env);
    object.Set("finishReason", finish_reason_name(outcome.reason));
    object.Set("tailText", outcome.tail_text);
    if (!outcome.stop_string.empty()) object.Set("stopString", outcome.stop_string);
    object.Set("promptTokens", outcome.stats.prompt_tokens);
    object.Set("evaluatedTokens", outcome.stats.evaluated_tokens);
    object.Set("reusedTokens", outcome.stats.reused_tokens);
    object.Set("droppedMessages", outcome.stats.dropped_messages);
    object.Set("generatedTokens", outcome.stats.generated_tokens);
    object.Set("sequences", outcome.stats.sequences);
    object.Set("promptMs", outcome.stats.prompt_ms);
    object.Set("generationMs", outcome.stats.generation_ms);
    object.Set("samplerTotalUs", outcome.stats.sampler_total_us);
    object.Set("realignedOn", outcome.stats.on_backend ? "backend" : "cpu");
    object.Set("guidanceScale", outcome.guidance_scale);
    object.Set("meanGuidanceScale", outcome.mean_guidance_scale);
    if (outcome.error.is_set()) {
        object.Set("error", make_error(env, outcome.error.code.c_str(), outcome.error.message).Value());
    }
    return object;
}

Napi::Object step_object(Napi::Env env, const std::vector<GeneratedToken> & tokens,
                         const std::optional<GenerationOutcome> & outcome) {
    Napi::Array array = Napi::Array::New(env, tokens.size());
    for (uint32_t i = 0; i < tokens.size(); ++i) array.Set(i, token_object(env, tokens[i]));
    Napi::Object step = Napi::Object::New(env);
    step.Set("tokens", array);
    if (outcome) step.Set("outcome", outcome_object(env, *outcome));
    return step;
}

}  // namespace

void GenerationChannel::deliver(Napi::Env env_now) {
    if (!pending || !run) return;
    std::vector<GeneratedToken> tokens;
    std::optional<GenerationOutcome> outcome;
    if (!run->poll(tokens, outcome)) return;
    Napi::Promise::Deferred deferred = *pending;
    pending.reset();
    wake.Unref(env_now);
    deferred.Resolve(step_object(env_now, tokens, outcome));
}

void AddonGeneration::Register(Napi::Env env, Napi::Object exports) {
    Napi::Function constructor = DefineClass(env, "AddonGeneration",
                                             {
                                                 InstanceMethod<&AddonGeneration::Next>("next"),
                                                 InstanceMethod<&AddonGeneration::Abort>("abort"),
                                             });
    addon_state(env).generation_constructor = Napi::Persistent(constructor);
    exports.Set("AddonGeneration", constructor);
}

Napi::Object AddonGeneration::Start(Napi::Env env, std::shared_ptr<GenerationRun> run,
                                    const std::shared_ptr<BatchEngine> & engine) {
    Napi::Object object = addon_state(env).generation_constructor.New({});
    auto channel = std::make_shared<GenerationChannel>();
    channel->run = std::move(run);
    channel->env = env;
    channel->wake = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo &) {}),
                                                  "amulet:generation", 0, 1);
    // Only a pending next() keeps the event loop alive, not an abandoned generation.
    channel->wake.Unref(env);
    napi_add_env_cleanup_hook(env, GenerationChannel::StopAtTeardown, channel.get());
    std::weak_ptr<GenerationChannel> weak = channel;
    Napi::ThreadSafeFunction wake = channel->wake;
    channel->run->connect(
        [wake, weak]() mutable {
            wake.NonBlockingCall([weak](Napi::Env env, Napi::Function) {
                if (const std::shared_ptr<GenerationChannel> target = weak.lock()) target->deliver(env);
            });
        },
        [wake]() mutable { wake.Release(); });
    engine->submit(channel->run);
    Unwrap(object)->channel_ = std::move(channel);
    return object;
}

AddonGeneration::AddonGeneration(const Napi::CallbackInfo & info) : Napi::ObjectWrap<AddonGeneration>(info) {}

AddonGeneration::~AddonGeneration() = default;

Napi::Value AddonGeneration::Next(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    GenerationChannel & channel = *channel_;
    if (channel.pending) throw make_error(env, "ERR_BUSY", "next() is already pending on this generation");
    if (!channel.run) throw make_error(env, "ERR_DISPOSED", "the generation has been stopped");
    std::vector<GeneratedToken> tokens;
    std::optional<GenerationOutcome> outcome;
    Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
    if (channel.run->poll(tokens, outcome)) {
        deferred.Resolve(step_object(env, tokens, outcome));
    } else {
        channel.pending = deferred;
        channel.wake.Ref(env);
    }
    return deferred.Promise();
}

void AddonGeneration::Abort(const Napi::CallbackInfo & /*info*/) {
    if (channel_->run) channel_->run->abort();
}

}  // namespace amulet
