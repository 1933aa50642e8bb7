// A minimal test runner for the C++ unit tests, in the spirit of llama.cpp's
// tests/: no framework, each suite is a function, a failed expectation prints
// where it is and what it saw, and the binary exits non-zero when any failed.
#pragma once

namespace amulet::tests {

/** Records one expectation; prints it when it fails. */
void expect(bool ok, const char * what, const char * file, int line);

/** |actual - expected| <= tolerance; infinities must match exactly, NaN never does. */
void expect_near(double actual, double expected, double tolerance, const char * what, const char * file, int line);

/** True when `run` throws an exception of type E. */
template <typename E, typename Run>
bool throws(Run && run) {
    try {
        run();
    } catch (const E &) {
        return true;
    } catch (...) {
        return false;
    }
    return false;
}

/** Expectations that failed so far. */
int failures();

}  // namespace amulet::tests

// Macros only to capture the expression and where it is.
#define EXPECT(condition) ::amulet::tests::expect((condition), #condition, __FILE__, __LINE__)
#define EXPECT_NEAR(actual, expected, tolerance) \
    ::amulet::tests::expect_near((actual), (expected), (tolerance), #actual, __FILE__, __LINE__)
