#include "addon/addon_session.h"

#include "addon/addon_errors.h"
#include "addon/addon_generation.h"
#include "addon/addon_state.h"
#include "addon/generation_request_parser.h"
#include "engine/engine_error.h"

namespace amulet {

void AddonSession::Register(Napi::Env env, Napi::Object exports) {
    Napi::Function constructor = DefineClass(env, "AddonSession",
                                             {
                                                 InstanceMethod<&AddonSession::Generate>("generate"),
                                                 InstanceMethod<&AddonSession::Dispose>("dispose"),
                                             });
    addon_state(env).session_constructor = Napi::Persistent(constructor);
    exports.Set("AddonSession", constructor);
}

Napi::Object AddonSession::Create(Napi::Env env, const std::shared_ptr<LoadedModel> & model, Napi::Object options) {
    Napi::Object object = addon_state(env).session_constructor.New({});
    // The context itself is created lazily, on the generation thread: it allocates the KV cache.
    Unwrap(object)->context_ = std::make_shared<SessionContext>(model, parse_context_options(options));
    return object;
}

AddonSession::AddonSession(const Napi::CallbackInfo & info) : Napi::ObjectWrap<AddonSession>(info) {}

Napi::Value AddonSession::Generate(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (!context_) throw make_error(env, "ERR_DISPOSED", "the session has been disposed");
    const std::shared_ptr<GenerationRun> active = active_.lock();
    if (active && !active->finished()) {
        throw make_error(env, "ERR_BUSY", "a generation is already running on this session");
    }
    GenerationRequest request;
    try {
        request = parse_generation_request(info[0].As<Napi::Object>());
    } catch (const Napi::Error &) {
        throw;
    } catch (...) {
        throw error_from_current_exception(env);
    }
    auto run = std::make_shared<GenerationRun>(context_, std::move(request));
    active_ = run;
    return AddonGeneration::Start(env, std::move(run));
}

void AddonSession::Dispose(const Napi::CallbackInfo & /*info*/) {
    if (const std::shared_ptr<GenerationRun> active = active_.lock()) active->abort();
    context_.reset();
}

}  // namespace amulet
