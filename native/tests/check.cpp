#include "check.h"

#include <cmath>
#include <cstdio>

namespace amulet::tests {

namespace {

int g_failures = 0;

}  // namespace

void expect(bool ok, const char * what, const char * file, int line) {
    if (ok) return;
    ++g_failures;
    std::fprintf(stderr, "%s:%d: expected %s\n", file, line, what);
}

void expect_near(double actual, double expected, double tolerance, const char * what, const char * file, int line) {
    const bool ok = std::isinf(expected) ? actual == expected : std::fabs(actual - expected) <= tolerance;
    if (ok) return;
    ++g_failures;
    std::fprintf(stderr, "%s:%d: %s is %.9g, expected %.9g (tolerance %.3g)\n", file, line, what, actual, expected,
                 tolerance);
}

int failures() { return g_failures; }

}  // namespace amulet::tests
