// The sequence assignment of a new generation: each prompt gets the KV sequence
// that already holds the longest prefix of it, so that unchanged sequences
// keep their cache when the list of prompts changes. No context is needed.
#include <vector>

#include "check.h"
#include "engine/kv_sequences.h"
#include "suites.h"

namespace amulet::tests {

namespace {

using Tokens = std::vector<llama_token>;
using Sequences = std::vector<llama_seq_id>;

void common_prefix_counts_the_shared_start() {
    EXPECT(common_prefix({1, 2, 3}, {1, 2, 4}) == 2);
    EXPECT(common_prefix({1, 2}, {1, 2, 3}) == 2);
    EXPECT(common_prefix({1, 2, 3}, {1, 2}) == 2);
    EXPECT(common_prefix({}, {1}) == 0);
    EXPECT(common_prefix({5}, {6}) == 0);
}

void a_new_context_keeps_the_prompt_order() {
    const std::vector<Tokens> prompts = {{1, 2, 3}, {1, 2, 4}, {1, 5}};
    EXPECT(assign_sequences(prompts, {{}, {}, {}}) == (Sequences{0, 1, 2}));
    EXPECT(assign_sequences(prompts, {{}, {}, {}, {}}) == (Sequences{0, 1, 2}));
}

void prompts_follow_their_cached_prefix() {
    const Tokens base = {1, 2, 3, 10, 11};
    const Tokens formal = {1, 2, 7, 20, 21};
    const Tokens concise = {1, 2, 8, 30};
    // The cache holds the base, formal and concise prompts of the last turn.
    const std::vector<Tokens> cached = {base, formal, concise};
    // This turn drops "formal": concise keeps its own sequence, not the free one.
    EXPECT(assign_sequences({base, concise}, cached) == (Sequences{0, 2}));
    // The prompts come in another order: each still finds its sequence.
    EXPECT(assign_sequences({concise, base, formal}, cached) == (Sequences{2, 0, 1}));
}

void ties_prefer_the_prompt_s_own_index() {
    const Tokens system = {1, 2, 3};
    // Both prompts share only the system prompt with both sequences.
    EXPECT(assign_sequences({{1, 2, 3, 4}, {1, 2, 3, 5}}, {system, system}) == (Sequences{0, 1}));
    // Prompt 1 shares as much with sequence 0 as with its own sequence 1: it keeps 1.
    EXPECT(assign_sequences({{9}, {1, 2, 3}}, {system, system}) == (Sequences{0, 1}));
    // Identical prompts and sequences: each keeps its own.
    EXPECT(assign_sequences({system, system}, {system, system}) == (Sequences{0, 1}));
    // Every sequence is assigned once, even when one is the best for both prompts.
    const Sequences sequences = assign_sequences({{1, 2, 3, 9}, {1, 2, 3, 9}}, {{1, 2, 3, 9}, {7}});
    EXPECT(sequences == (Sequences{0, 1}));
}

}  // namespace

void kv_sequences_tests() {
    common_prefix_counts_the_shared_start();
    a_new_context_keeps_the_prompt_order();
    prompts_follow_their_cached_prefix();
    ties_prefer_the_prompt_s_own_index();
}

}  // namespace amulet::tests
