// Turns a stream of token bytes into text chunks that are always valid UTF-8:
// a character split across tokens is held back until it is complete, and
// bytes that can never form a character become U+FFFD.
#pragma once

#include <string>
#include <string_view>

namespace amulet {

class Utf8Stream {
  public:
    /** Appends bytes; returns the complete, valid text available so far (may be empty). */
    std::string push(std::string_view bytes);
    /** Ends the stream: returns what is left, an unfinished character as U+FFFD. */
    std::string finish();

  private:
    std::string pending_;
};

}  // namespace amulet
