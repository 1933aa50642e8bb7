// Maps native failures onto the JavaScript AmuletError class (created by the
// factory lib/addon.ts registers), so every error carries a stable `code`.
#pragma once

#include <napi.h>

#include <string>

namespace amulet {

/** A JS AmuletError with the given code and message. */
Napi::Error make_error(Napi::Env env, const char * code, const std::string & message);

/** Converts the exception being handled (call inside a catch block) to an AmuletError. */
Napi::Error error_from_current_exception(Napi::Env env);

}  // namespace amulet
