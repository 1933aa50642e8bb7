#include "addon/addon_session.h"

#include "addon/addon_errors.h"
#include "addon/addon_generation.h"
#include "addon/addon_state.h"
#include "addon/generation_request_parser.h"

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

Napi::Object AddonSession::Create(Napi::Env env, const std::shared_ptr<BatchEngine> & engine) {
    Napi::Object object = addon_state(env).session_constructor.New({});
    AddonSession * self = Unwrap(object);
    self->engine_ = engine;
    self->id_ = engine->new_session();
    return object;
}

AddonSession::AddonSession(const Napi::CallbackInfo & info) : Napi::ObjectWrap<AddonSession>(info) {}

Napi::Value AddonSession::Generate(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (!engine_) throw make_error(env, "ERR_DISPOSED", "the session has been disposed");
    const std::shared_ptr<GenerationRun> active = active_.lock();
    if (active && !active->finished()) {
        throw make_error(env, "ERR_BUSY", "a generation is already running on this session");
    }
    GenerationRequest request;
    try {
        request = parse_generation_request(info[0]);
    } catch (const Napi::Error &) {
        throw;
    } catch (...) {
        throw error_from_current_exception(env);
    }
    auto run = std::make_shared<GenerationRun>(std::move(request), id_, created_);
    active_ = run;
    return AddonGeneration::Start(env, std::move(run), engine_);
}

void AddonSession::Dispose(const Napi::CallbackInfo & /*info*/) {
    if (const std::shared_ptr<GenerationRun> active = active_.lock()) active->abort();
    if (engine_) engine_->forget(id_);
    engine_.reset();
}

}  // namespace amulet
