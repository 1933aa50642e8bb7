// Utf8Stream: characters split across tokens are held back until complete,
// and bytes that can never form a character become U+FFFD.
#include <string>

#include "check.h"
#include "engine/utf8_stream.h"
#include "suites.h"

namespace amulet::tests {

namespace {

const std::string kReplacement = "\xEF\xBF\xBD";

void complete_text_passes_through() {
    Utf8Stream stream;
    EXPECT(stream.push("plain ascii") == "plain ascii");
    EXPECT(stream.push("\xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80") == "\xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
    EXPECT(stream.finish().empty());
}

void split_characters_wait_for_their_last_byte() {
    Utf8Stream stream;
    // U+1F600 in four pushes, after some ASCII.
    EXPECT(stream.push("a\xF0") == "a");
    EXPECT(stream.push("\x9F").empty());
    EXPECT(stream.push("\x98").empty());
    EXPECT(stream.push("\x80" "b") == "\xF0\x9F\x98\x80" "b");
    // U+20AC split after its lead byte.
    EXPECT(stream.push("\xE2").empty());
    EXPECT(stream.push("\x82\xAC") == "\xE2\x82\xAC");
    EXPECT(stream.finish().empty());
}

void invalid_bytes_become_replacement_characters() {
    Utf8Stream stream;
    // Not lead bytes: a lone continuation byte, an overlong lead, 0xFF.
    EXPECT(stream.push("\x80") == kReplacement);
    EXPECT(stream.push("\xC0\xAF") == kReplacement + kReplacement);
    EXPECT(stream.push("x\xFFy") == "x" + kReplacement + "y");
    // A sequence broken by an ASCII byte: replaced, then the ASCII byte kept.
    EXPECT(stream.push("\xE2\x82z") == kReplacement + "z");
    // A surrogate (U+D800): its second byte is out of range after 0xED.
    EXPECT(stream.push("\xED\xA0\x80") == kReplacement + kReplacement + kReplacement);
    // Above U+10FFFF.
    EXPECT(stream.push("\xF4\x90\x80\x80") == kReplacement + kReplacement + kReplacement + kReplacement);
    EXPECT(stream.finish().empty());
}

void finish_replaces_an_unfinished_character() {
    Utf8Stream stream;
    EXPECT(stream.push("ok\xE2\x82") == "ok");
    EXPECT(stream.finish() == kReplacement);
    EXPECT(stream.finish().empty());
    EXPECT(stream.push("again") == "again");
}

}  // namespace

void utf8_stream_tests() {
    complete_text_passes_through();
    split_characters_wait_for_their_last_byte();
    invalid_bytes_become_replacement_characters();
    finish_replaces_an_unfinished_character();
}

}  // namespace amulet::tests
