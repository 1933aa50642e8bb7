// A llama.cpp context and what each of its KV sequences holds: the state
// that lives from a context's first generation to its end, shared by the
// sessions of the context.
//
// Every generation decodes one sequence per prompt (the base prompt and one
// per preference). A session owns the sequences its generations last used,
// with their cache, so that its next turn evaluates only what the cache does
// not hold yet (KvSequences): each prompt continues the sequence sharing the
// longest token prefix with it.
//
// Two kinds of context:
// - shared (`sequences` > 0): a fixed number of sequences in one unified KV
//   cache of `cache_size` cells, for many sessions decoding together. A
//   generation takes its session's sequences, then free ones, then the idle
//   ones of other sessions, least recently used first (their cache is lost).
// - private (`sequences` = 0): one session's context, created for the
//   sequences its first generation needs and recreated, empty, when a later
//   one needs more; one KV stream per sequence, so that a step of several
//   sequences computes what each would alone.
//
// Reused KV entries of an answer were computed as it was generated, one token
// per micro-batch. llama.cpp's CPU kernels round differently for different
// micro-batch sizes, so a continued conversation and the same conversation
// restored into a fresh session can differ in the last bits of their logits.
//
// Not thread-safe: the context's decode thread (BatchEngine) owns it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/context_options.h"
#include "engine/kv_sequences.h"
#include "engine/llama_handles.h"
#include "engine/loaded_model.h"

namespace amulet {

/** Identifies a session among those of a context (0: none). */
using SessionId = uint64_t;

class DecodeContext {
  public:
    DecodeContext(std::shared_ptr<LoadedModel> model, ContextOptions options);
    ~DecodeContext();  // frees the context and hands its freed memory back to the system
    DecodeContext(const DecodeContext &) = delete;
    DecodeContext & operator=(const DecodeContext &) = delete;

    bool shared() const { return options_.sequences > 0; }

    /** The most sequences one generation may decode: a shared context's own; a private one asks llama.cpp. */
    int32_t max_sequences() const;

    /**
     * Makes sure the llama.cpp context exists and, when private, holds at
     * least `n_sequences` (recreating it, empty, when it holds fewer). Call
     * only while no generation runs on it. Throws ERR_CONTEXT_CREATE.
     */
    void reserve(int32_t n_sequences);

    /**
     * Pairs each prompt of a generation of `session` with a sequence: the
     * session's own, free ones, then idle ones of other sessions (least
     * recently used first), each prompt taking the one holding the longest
     * prefix of it. The sequences are then busy until release(). Returns
     * nullopt when fewer are idle now (others' generations hold them).
     */
    std::optional<std::vector<llama_seq_id>> acquire(SessionId session,
                                                     const std::vector<std::vector<llama_token>> & prompts);

    /** A generation holding `sequences` has ended: they stay its session's, with their cache, idle. */
    void release(const std::vector<llama_seq_id> & sequences);

    /** Frees every sequence of `session` (it was disposed), emptying their cache. */
    void forget(SessionId session);

    /**
     * Empties the cache of idle sequences, least recently used first, until
     * `cells` tokens are freed or none is left. Returns the tokens freed.
     */
    size_t evict_idle(size_t cells);

    /** The llama.cpp context (null before reserve()). */
    llama_context * get() const { return ctx_.get(); }
    KvSequences & kv() { return kv_; }
    const KvSequences & kv() const { return kv_; }
    BatchHandle & batch() { return *batch_; }
    const LoadedModel & model() const { return *model_; }
    const ContextOptions & options() const { return options_; }
    /** KV cells of the context (0 before reserve()). */
    uint32_t cells() const { return cells_; }
    /** Sequences the llama.cpp context holds now. */
    int32_t sequences() const { return kv_.size(); }
    /** Sequences held by a running generation. */
    int32_t busy_sequences() const;

  private:
    struct Owner {
        SessionId session = 0;  // 0: free
        bool busy = false;
        uint64_t last_used = 0;
    };

    void release_context();

    std::shared_ptr<LoadedModel> model_;
    const ContextOptions options_;
    ContextHandle ctx_;
    std::unique_ptr<BatchHandle> batch_;
    uint32_t cells_ = 0;
    KvSequences kv_;
    std::vector<Owner> owners_;
    uint64_t clock_ = 0;
};

}  // namespace amulet
