// The test build's extra exports, `setTestHooks` and `runStopMatcher` (see addon_test_hooks.cpp).
#pragma once

#if defined(AMULET_TEST_HOOKS)

#include <napi.h>

namespace amulet {

void RegisterTestHooks(Napi::Env env, Napi::Object exports);

}  // namespace amulet

#endif
