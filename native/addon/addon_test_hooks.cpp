// `setTestHooks` and `runStopMatcher`, only in the test build of the addon
// (amulet_test.node, AMULET_TEST_HOOKS): arm the engine's fault injection and
// benchmark ceiling (engine/test_hooks.h) from JavaScript, and run the engine's
// pure StopMatcher on its own, for tests without a model.
#include "addon/addon_test_hooks.h"

#if defined(AMULET_TEST_HOOKS)

#include <string>
#include <vector>

#include "addon/addon_errors.h"
#include "engine/stop_matcher.h"
#include "engine/test_hooks.h"

namespace amulet {

namespace {

// [sync] ({ fault?: { kind: 'exception' | 'allocation' | 'decode', atToken: number }, ceiling?: boolean,
//          plainCpuWeights?: boolean }) => void.
// Throws ERR_INVALID_OPTION for an unknown fault kind.
void SetTestHooks(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    const Napi::Object hooks = info[0].As<Napi::Object>();
    const Napi::Value fault = hooks.Get("fault");
    if (fault.IsObject()) {
        const Napi::Object settings = fault.As<Napi::Object>();
        const std::string kind = settings.Get("kind").As<Napi::String>().Utf8Value();
        using Kind = test_hooks::Fault::Kind;
        test_hooks::Fault armed;
        if (kind == "exception") armed.kind = Kind::Exception;
        else if (kind == "allocation") armed.kind = Kind::Allocation;
        else if (kind == "decode") armed.kind = Kind::Decode;
        else throw make_error(env, "ERR_INVALID_OPTION", "unknown fault kind '" + kind + "'");
        armed.at_token = settings.Get("atToken").As<Napi::Number>().Int32Value();
        test_hooks::arm_fault(armed);
    }
    const Napi::Value ceiling = hooks.Get("ceiling");
    if (ceiling.IsBoolean()) test_hooks::set_ceiling(ceiling.As<Napi::Boolean>().Value());
    const Napi::Value plain = hooks.Get("plainCpuWeights");
    if (plain.IsBoolean()) test_hooks::set_plain_cpu_weights(plain.As<Napi::Boolean>().Value());
}

// [sync] (stops: string[], pieces: string[]) => { chunks: string[], tail: string, stopString: string }:
// the engine's StopMatcher fed `pieces` one by one (chunks[i] is what piece i let out), then ended.
Napi::Value RunStopMatcher(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    const Napi::Array stops = info[0].As<Napi::Array>();
    const Napi::Array pieces = info[1].As<Napi::Array>();
    std::vector<std::string> stop_strings;
    for (uint32_t i = 0; i < stops.Length(); ++i) stop_strings.push_back(stops.Get(i).As<Napi::String>().Utf8Value());
    StopMatcher matcher(std::move(stop_strings));
    Napi::Array chunks = Napi::Array::New(env, pieces.Length());
    for (uint32_t i = 0; i < pieces.Length(); ++i) {
        chunks.Set(i, matcher.push(pieces.Get(i).As<Napi::String>().Utf8Value()));
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("chunks", chunks);
    result.Set("tail", matcher.finish());
    result.Set("stopString", matcher.matched());
    return result;
}

}  // namespace

void RegisterTestHooks(Napi::Env env, Napi::Object exports) {
    exports.Set("setTestHooks", Napi::Function::New<SetTestHooks>(env, "setTestHooks"));
    exports.Set("runStopMatcher", Napi::Function::New<RunStopMatcher>(env, "runStopMatcher"));
}

}  // namespace amulet

#endif
