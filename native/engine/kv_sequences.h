// What each KV sequence of a session's context holds, so that a new turn
// evaluates only what is not there yet.
//
// A session keeps one llama.cpp context for all its turns. Each KV sequence
// of that context holds the tokens of one prompt, e.g. the base prompt or one
// preference's prompt, followed by the tokens generated after it. KvSequences
// mirrors those token lists on the host. A new generation assigns each of its
// prompts the sequence sharing the longest token prefix with it, removes the
// sequence's tokens from the first difference on, and evaluates only the rest.
//
// With kv_unified = false every sequence is its own KV stream. Within a stream
// llama.cpp's seq_cp only updates metadata; across streams it copies the whole
// stream buffer (every cell, used or not) at the next decode. copy_prefix()
// is therefore used only where it saves evaluating tokens. In a unified
// cache (one stream for every sequence) a copy only marks the cells as shared.
//
// Not thread-safe: the thread driving the decoder owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "llama.h"

namespace amulet {

/** Length of the common prefix of two token lists. */
size_t common_prefix(const std::vector<llama_token> & a, const std::vector<llama_token> & b);

/**
 * Pairs each prompt with a distinct sequence, greedily by the longest common
 * prefix with the sequence's tokens (ties: the sequence with the prompt's own index,
 * then the lowest index), so that unchanged sequences keep their cache even
 * when the list of prompts changes. Needs cached.size() >= prompts.size().
 */
std::vector<llama_seq_id> assign_sequences(const std::vector<std::vector<llama_token>> & prompts,
                                       const std::vector<std::vector<llama_token>> & cached);

class KvSequences {
  public:
    /** Forgets everything: a new context with `n_sequences` empty sequences (ctx may be null). */
    void reset(llama_context * ctx, int32_t n_sequences, int32_t n_swa, bool unified);

    /** True when every sequence lives in one KV stream, where copy_prefix() costs nothing. */
    bool unified() const { return unified_; }

    int32_t size() const { return static_cast<int32_t>(tokens_.size()); }
    const std::vector<llama_token> & tokens(llama_seq_id sequence) const { return tokens_[static_cast<size_t>(sequence)]; }
    const std::vector<std::vector<llama_token>> & all() const { return tokens_; }

    /**
     * Drops from the host lists what the KV cache no longer holds, e.g. after
     * a decode failed or was aborted (llama.cpp then removes the failed
     * micro-batch's positions). Call before planning a new generation.
     */
    void resync();

    /**
     * Keeps the first `keep` tokens of a sequence and removes the rest from the
     * cache. Returns how many are kept: fewer (0) when the cache cannot remove
     * a partial sequence (recurrent models) or, with sliding-window attention,
     * no longer holds the window the next position needs.
     */
    size_t truncate(llama_seq_id sequence, size_t keep);

    /**
     * Makes `to` hold the first `keep` tokens of `from` (across streams a
     * full-stream copy, done by llama.cpp at the next decode, then a
     * truncation). Returns the number of tokens `to` holds afterwards (see
     * truncate()).
     */
    size_t copy_prefix(llama_seq_id from, llama_seq_id to, size_t keep);

    /** Empties a sequence. */
    void clear(llama_seq_id sequence) { truncate(sequence, 0); }

    /** Tokens held by every sequence together (a prefix shared by several sequences counted once per sequence). */
    size_t total() const;

    /** Records a token about to be decoded into a sequence (at position tokens(sequence).size()). */
    void append(llama_seq_id sequence, llama_token token) { tokens_[static_cast<size_t>(sequence)].push_back(token); }

  private:
    bool window_intact(llama_seq_id sequence, size_t keep) const;

    llama_context * ctx_ = nullptr;
    int32_t n_swa_ = 0;
    bool unified_ = false;
    std::vector<std::vector<llama_token>> tokens_;
};

}  // namespace amulet
