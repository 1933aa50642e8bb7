// Per-environment state of the addon (one per Node.js environment, so worker
// threads each get their own): constructors and the JS error factory.
#pragma once

#include <napi.h>

namespace amulet {

struct AddonState {
    Napi::FunctionReference model_constructor;
    Napi::FunctionReference context_constructor;
    Napi::FunctionReference session_constructor;
    Napi::FunctionReference generation_constructor;
    Napi::FunctionReference scorer_constructor;
    Napi::FunctionReference error_factory;  // (code, message) => AmuletError, set by lib/addon.ts
};

AddonState & addon_state(Napi::Env env);

}  // namespace amulet
