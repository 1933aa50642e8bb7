// Stop strings over a stream of text: the generation ends where the text
// first contains one of them, and neither it nor anything after it is
// emitted. Text that could still be the start of a stop string is held back
// until the next piece decides, so a consumer never sees part of a stop
// string that is then taken back. Pure C++ (no llama.cpp).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace amulet {

class StopMatcher {
  public:
    /** `stops`: non-empty strings (none: every piece passes through). */
    explicit StopMatcher(std::vector<std::string> stops = {});

    /**
     * Appends a piece of text. Returns what may be emitted now: once a stop
     * string is found (the one that ends first in the text; of those, the
     * longest), the text before it; otherwise all but the longest tail that
     * is the start of a stop string. Nothing once stopped. Pieces of whole
     * UTF-8 characters give whole characters.
     */
    std::string push(std::string_view text);

    /** Ends the stream: the tail still held back (nothing once stopped). */
    std::string finish();

    /** The stop string found; empty while none has been. */
    const std::string & matched() const { return matched_; }

  private:
    size_t held_tail() const;

    std::vector<std::string> stops_;
    std::string pending_;  // text not emitted yet: a tail that may begin a stop string
    std::string matched_;
};

}  // namespace amulet
