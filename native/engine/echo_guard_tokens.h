// The echo guard's token set of one preference text (docs/algorithm.md): the
// tokens its words can take in an answer. Built once per preference when a
// generation is planned; the sampler then only reads the ids.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/loaded_model.h"

namespace amulet {

/**
 * The written forms of the text's words that the guard tokenises: every word
 * (a run of letters, digits or non-ASCII bytes) that is not a function word
 * of echo_guard_function_words(), as written, in lower case and capitalised
 * (ASCII letters only change case), each with and without a leading space.
 * Sorted, without repeats.
 */
std::vector<std::string> echo_guard_forms(const std::string & text);

/**
 * Whether a token's text is worth guarding: at least three letters (an
 * ASCII letter or the start of a non-ASCII character each), and not a
 * function word once trimmed and lower-cased. Short pieces ("s", "ed",
 * " in") and function words appear in any answer whatever its preference.
 */
bool echo_guard_keeps_piece(const std::string & piece);

/**
 * The common words of English, French, German and Spanish (lower case, ASCII
 * spelling where the word has one) that the guard never takes: articles,
 * pronouns, prepositions, conjunctions, auxiliaries and intensifiers
 * ("very", "much", "more"): words an answer uses whatever its preference,
 * and that a preference written in that language would otherwise keep the
 * realignment from pushing.
 */
const std::vector<std::string> & echo_guard_function_words();

/**
 * The guard set of one preference text: the model's tokens of every form
 * (echo_guard_forms), tokenised without special tokens, that
 * echo_guard_keeps_piece keeps and that are normal tokens of the vocabulary
 * (no control, end-of-generation, unknown, unused, byte or user-defined
 * token). Sorted, without repeats.
 */
std::vector<int32_t> echo_guard_tokens(const LoadedModel & model, const std::string & text);

}  // namespace amulet
