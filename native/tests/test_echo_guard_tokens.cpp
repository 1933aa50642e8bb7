// echo_guard_tokens: the written forms of a preference's words (spaces, case,
// function words left out) and which token pieces the guard keeps. The
// tokenisation itself needs a model (test/model/oracle.test.ts checks the sets
// a generation built).
#include <algorithm>
#include <string>
#include <vector>

#include "check.h"
#include "engine/echo_guard_tokens.h"
#include "suites.h"

namespace amulet::tests {

namespace {

bool has(const std::vector<std::string> & forms, const std::string & form) {
    return std::find(forms.begin(), forms.end(), form) != forms.end();
}

void forms_cover_space_and_case() {
    const std::vector<std::string> forms = echo_guard_forms("Your answer should be Sycophantic as much as possible.");
    for (const char * form : {"answer", " answer", "Answer", " Answer", "sycophantic", " sycophantic", "Sycophantic",
                              " Sycophantic", "possible", " Possible"}) {
        EXPECT(has(forms, form));
    }
    // Function words are left out, whatever their case; punctuation is not part of a word.
    for (const char * form : {"Your", " your", "should", " be", "as", " much", "possible."}) EXPECT(!has(forms, form));
    EXPECT(std::is_sorted(forms.begin(), forms.end()));
    EXPECT(std::adjacent_find(forms.begin(), forms.end()) == forms.end());
}

void forms_keep_non_ascii_words_whole() {
    // "français" keeps its bytes; only ASCII letters change case. "en" is a function word.
    const std::vector<std::string> forms = echo_guard_forms("Réponds en français, s'il te plaît");
    EXPECT(has(forms, "français"));
    EXPECT(has(forms, " Français"));
    EXPECT(has(forms, "réponds"));
    EXPECT(!has(forms, "en"));
    EXPECT(!has(forms, " te"));
    EXPECT(echo_guard_forms("").empty());
    EXPECT(echo_guard_forms("the and of, in !").empty());
}

void pieces_need_three_letters_and_no_function_word() {
    EXPECT(echo_guard_keeps_piece(" creative"));
    EXPECT(echo_guard_keeps_piece("oph"));
    EXPECT(echo_guard_keeps_piece("çais"));
    EXPECT(!echo_guard_keeps_piece("ed"));
    EXPECT(!echo_guard_keeps_piece(" s"));
    EXPECT(!echo_guard_keeps_piece(" The"));
    EXPECT(!echo_guard_keeps_piece("very"));
    EXPECT(!echo_guard_keeps_piece("..."));
    EXPECT(!echo_guard_keeps_piece("12"));
    const std::vector<std::string> & words = echo_guard_function_words();
    EXPECT(std::is_sorted(words.begin(), words.end()));
}

}  // namespace

void echo_guard_tokens_tests() {
    forms_cover_space_and_case();
    forms_keep_non_ascii_words_whole();
    pieces_need_three_letters_and_no_function_word();
}

}  // namespace amulet::tests
