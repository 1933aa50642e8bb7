#include "addon/addon_errors.h"

#include "addon/addon_state.h"
#include "engine/engine_error.h"

namespace amulet {

Napi::Error make_error(Napi::Env env, const char * code, const std::string & message) {
    Napi::FunctionReference & factory = addon_state(env).error_factory;
    if (factory.IsEmpty()) {
        Napi::Error error = Napi::Error::New(env, message);
        error.Set("code", Napi::String::New(env, code));
        return error;
    }
    Napi::Value error = factory.Call({Napi::String::New(env, code), Napi::String::New(env, message)});
    return Napi::Error(env, error);
}

Napi::Error error_from_current_exception(Napi::Env env) {
    const ErrorInfo info = describe_current_exception();
    return make_error(env, info.code.c_str(), info.message);
}

}  // namespace amulet
