// amulet_native_tests: the C++ units that need no model. Exit status 0 when
// every expectation held; each failure is printed to stderr.
#include <cstdio>

#include "check.h"
#include "suites.h"

int main() {
    using namespace amulet::tests;
    const struct {
        const char * name;
        void (*run)();
    } suites[] = {
        {"realign_math", realign_math_tests},
        {"realign_params", realign_params_tests},
        {"utf8_stream", utf8_stream_tests},
        {"kv_sequences", kv_sequences_tests},
        {"echo_guard", echo_guard_tokens_tests},
    };
    for (const auto & suite : suites) {
        const int before = failures();
        suite.run();
        std::printf("%-16s %s\n", suite.name, failures() == before ? "ok" : "FAILED");
    }
    if (failures() > 0) {
        std::printf("%d expectation(s) failed\n", failures());
        return 1;
    }
    return 0;
}
