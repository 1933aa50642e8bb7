#include "engine/engine_error.h"

#include <new>

namespace amulet {

ErrorInfo describe_current_exception() {
    try {
        throw;
    } catch (const EngineError & error) {
        return {error.code(), error.what()};
    } catch (const std::invalid_argument & error) {
        return {error_code::kInvalidOption, error.what()};
    } catch (const std::bad_alloc &) {
        return {error_code::kNative, "out of memory"};
    } catch (const std::exception & error) {
        return {error_code::kNative, error.what()};
    } catch (...) {
        return {error_code::kNative, "unknown native error"};
    }
}

}  // namespace amulet
