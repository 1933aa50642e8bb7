// Module entry: registers the classes and the free functions the TypeScript
// layer declares in its NativeBinding interface (lib/addon-types.ts).
#include <napi.h>

#include <memory>

#include "addon/addon_beam_search.h"
#include "addon/addon_context.h"
#include "addon/addon_errors.h"
#include "addon/addon_generation.h"
#include "addon/addon_model.h"
#include "addon/addon_scorer.h"
#include "addon/addon_session.h"
#include "addon/addon_state.h"
#include "addon/addon_test_hooks.h"
#include "addon/generation_request_parser.h"
#include "engine/devices.h"
#include "engine/llama_log.h"
#include "llama.h"
#include "sampler/realign_params.h"

namespace amulet {

AddonState & addon_state(Napi::Env env) { return *env.GetInstanceData<AddonState>(); }

namespace {

// [sync] (factory: (code, message) => Error) => void
void SetErrorFactory(const Napi::CallbackInfo & info) {
    addon_state(info.Env()).error_factory = Napi::Persistent(info[0].As<Napi::Function>());
}

// [sync] ({ method, alpha, lambda, eta, iterations, ratio }) => number: the guidance scale s.
// Throws ERR_INVALID_OPTION.
Napi::Value GuidanceScale(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    try {
        RealignParams params = parse_realign_params(info[0]);
        params.weights = {1.0};
        params.validate();
        return Napi::Number::New(env, guidance_scale(params));
    } catch (const Napi::Error &) {
        throw;
    } catch (...) {
        throw error_from_current_exception(env);
    }
}

// [sync] () => { system: string, gpuOffload: boolean, rpc: boolean, backends: string[] }
Napi::Value SystemInfo(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    init_llama_backend();
    Napi::Object result = Napi::Object::New(env);
    result.Set("system", llama_print_system_info());
    // llama_supports_gpu_offload() also counts the RPC backend; this is about a GPU on this machine.
    result.Set("gpuOffload", !local_gpus().empty());
    result.Set("rpc", llama_supports_rpc());
    Napi::Array backends = Napi::Array::New(env, ggml_backend_reg_count());
    for (size_t i = 0; i < ggml_backend_reg_count(); ++i) {
        backends.Set(static_cast<uint32_t>(i), ggml_backend_reg_name(ggml_backend_reg_get(i)));
    }
    result.Set("backends", backends);
    return result;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
    env.SetInstanceData(std::make_unique<AddonState>().release());
    AddonModel::Register(env, exports);
    AddonContext::Register(env, exports);
    AddonSession::Register(env, exports);
    AddonGeneration::Register(env, exports);
    AddonScorer::Register(env, exports);
    exports.Set("loadModel", Napi::Function::New<LoadModel>(env, "loadModel"));
    exports.Set("setErrorFactory", Napi::Function::New<SetErrorFactory>(env, "setErrorFactory"));
    exports.Set("guidanceScale", Napi::Function::New<GuidanceScale>(env, "guidanceScale"));
    exports.Set("systemInfo", Napi::Function::New<SystemInfo>(env, "systemInfo"));
    exports.Set("beamSearch", Napi::Function::New<BeamSearchStart>(env, "beamSearch"));
#if defined(AMULET_TEST_HOOKS)
    RegisterTestHooks(env, exports);
#endif
    return exports;
}

}  // namespace amulet

// NODE_API_MODULE pastes its second argument into a name, so it needs a plain identifier.
static Napi::Object InitAmuletAddon(Napi::Env env, Napi::Object exports) { return amulet::Init(env, exports); }
NODE_API_MODULE(amulet, InitAmuletAddon)
