// Routes llama.cpp's log output, and that of its `common` helpers: silent by
// default (AMULET_LOG=1 echoes it to stderr), while the last error lines are kept so that a failed load or
// decode can say why in its error message.
#pragma once

#include <string>

namespace amulet {

/** Installs the log callback and initialises llama.cpp's backends; idempotent. */
void init_llama_backend();

/** The most recent error/warning lines logged by llama.cpp (empty if none), then clears them. */
std::string take_llama_log_errors();

}  // namespace amulet
