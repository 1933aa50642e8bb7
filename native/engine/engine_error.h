// Errors that cross from the engine to JavaScript carry a stable code, which
// the addon maps onto an AmuletError with the same `code`.
#pragma once

#include <stdexcept>
#include <string>

namespace amulet {

namespace error_code {
inline constexpr const char * kModelLoad = "ERR_MODEL_LOAD";
inline constexpr const char * kInvalidOption = "ERR_INVALID_OPTION";
inline constexpr const char * kContextCreate = "ERR_CONTEXT_CREATE";
inline constexpr const char * kContextFull = "ERR_CONTEXT_FULL";
inline constexpr const char * kDecode = "ERR_DECODE";
inline constexpr const char * kAborted = "ERR_ABORTED";
inline constexpr const char * kTemplate = "ERR_TEMPLATE";
inline constexpr const char * kNative = "ERR_NATIVE";
inline constexpr const char * kRpcUnreachable = "ERR_RPC_UNREACHABLE";
inline constexpr const char * kRpcVersion = "ERR_RPC_VERSION";
inline constexpr const char * kRpcDisconnected = "ERR_RPC_DISCONNECTED";
}  // namespace error_code

class EngineError : public std::runtime_error {
  public:
    EngineError(const char * code, const std::string & message) : std::runtime_error(message), code_(code) {}
    const char * code() const noexcept { return code_; }

  private:
    const char * code_;
};

/** A failure captured on a worker thread, to be turned into a JS error on the JS thread. */
struct ErrorInfo {
    std::string code;
    std::string message;
    bool is_set() const { return !code.empty(); }
};

/** Describes the exception being handled (call inside a catch block): EngineError, invalid_argument, bad_alloc, ... */
ErrorInfo describe_current_exception();

}  // namespace amulet
