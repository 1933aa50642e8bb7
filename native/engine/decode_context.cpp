#include "engine/decode_context.h"

#include <algorithm>
#include <limits>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "engine/engine_error.h"
#include "engine/llama_calls.h"

namespace amulet {

DecodeContext::DecodeContext(std::shared_ptr<LoadedModel> model, ContextOptions options)
    : model_(std::move(model)), options_(options) {}

DecodeContext::~DecodeContext() { release_context(); }

int32_t DecodeContext::max_sequences() const {
    // A private context leaves the limit to llama.cpp, whose refusal names it.
    return shared() ? options_.sequences : std::numeric_limits<int32_t>::max();
}

void DecodeContext::release_context() {
    const bool had_context = ctx_ != nullptr;
    batch_.reset();
    ctx_.reset();
    cells_ = 0;
    kv_.reset(nullptr, 0, 0, false);
    owners_.clear();
#if defined(__GLIBC__)
    // A context's large buffers (KV cache, compute and output buffers) are
    // mapped and unmapped by ggml itself (vendor/patches/0003). Its many
    // smaller heap allocations (graph metadata, per-sequence arrays) leave
    // free pages behind that the process would keep: 10-20 MB after a few
    // sessions of SmolLM2-135M. Hand those pages back.
    if (had_context) malloc_trim(0);
#else
    (void) had_context;
#endif
}

void DecodeContext::reserve(int32_t n_sequences) {
    const int32_t wanted = shared() ? options_.sequences : n_sequences;
    if (ctx_ && kv_.size() >= wanted) return;
    release_context();
    // A batch carries at least one token per sequence (every generation step),
    // and is one micro-batch: a step that fails leaves nothing of itself in the cache.
    const int32_t batch_size = std::max(options_.batch_size, wanted);
    const uint32_t cells = shared() && options_.cache_size > 0
                               ? static_cast<uint32_t>(options_.cache_size)
                               : static_cast<uint32_t>(options_.context_size) * static_cast<uint32_t>(wanted);
    llama_context_params params = llama_context_default_params();
    params.n_ctx = cells;
    params.n_batch = static_cast<uint32_t>(batch_size);
    params.n_ubatch = static_cast<uint32_t>(shared() ? batch_size : options_.batch_size);
    params.n_seq_max = static_cast<uint32_t>(wanted);
    // Every decode asks for at most one row per sequence; a backend sampler
    // is then sized for one (and the dist sampler draws as on the CPU).
    params.n_outputs_max_per_seq = 1;
    // Private: one KV stream per sequence, so a sequence attends only to its
    // own cells and a batched step computes what a single-sequence step would.
    // Shared: one stream whose cells any sequence may take, so that the
    // sessions share one budget of cells and a copied prefix costs nothing.
    params.kv_unified = shared();
    const std::string what = std::to_string(wanted) + " sequences of " + std::to_string(options_.context_size) +
                             " tokens" + (shared() ? " in " + std::to_string(cells) + " cells" : "");
    ctx_ = create_context(*model_, params, resolve_threads(options_.threads), what);
    batch_ = std::make_unique<BatchHandle>(batch_size, wanted);
    cells_ = llama_n_ctx(ctx_.get());
    kv_.reset(ctx_.get(), wanted, llama_model_n_swa(model_->get()), shared());
    owners_.assign(static_cast<size_t>(wanted), Owner{});
}

std::optional<std::vector<llama_seq_id>> DecodeContext::acquire(
    SessionId session, const std::vector<std::vector<llama_token>> & prompts) {
    // What the cache holds after a failed or aborted decode.
    kv_.resync();
    // The candidates in order of preference: the session's own, the free ones,
    // then the other sessions' idle ones, least recently used first.
    std::vector<llama_seq_id> own;
    std::vector<llama_seq_id> others;
    for (llama_seq_id seq = 0; seq < static_cast<llama_seq_id>(owners_.size()); ++seq) {
        const Owner & owner = owners_[static_cast<size_t>(seq)];
        if (owner.busy) continue;
        (owner.session == session || owner.session == 0 ? own : others).push_back(seq);
    }
    std::stable_sort(others.begin(), others.end(), [&](llama_seq_id a, llama_seq_id b) {
        return owners_[static_cast<size_t>(a)].last_used < owners_[static_cast<size_t>(b)].last_used;
    });
    std::vector<llama_seq_id> pool = own;
    for (size_t i = 0; pool.size() < prompts.size() && i < others.size(); ++i) pool.push_back(others[i]);
    if (pool.size() < prompts.size()) return std::nullopt;
    std::sort(pool.begin(), pool.end());
    std::vector<std::vector<llama_token>> cached;
    cached.reserve(pool.size());
    for (const llama_seq_id seq : pool) cached.push_back(kv_.tokens(seq));
    std::vector<llama_seq_id> chosen = assign_sequences(prompts, cached);
    ++clock_;
    for (llama_seq_id & seq : chosen) {
        seq = pool[static_cast<size_t>(seq)];
        Owner & owner = owners_[static_cast<size_t>(seq)];
        owner = Owner{session, true, clock_};
    }
    return chosen;
}

void DecodeContext::release(const std::vector<llama_seq_id> & sequences) {
    ++clock_;
    for (const llama_seq_id seq : sequences) {
        if (seq < 0 || static_cast<size_t>(seq) >= owners_.size()) continue;
        owners_[static_cast<size_t>(seq)].busy = false;
        owners_[static_cast<size_t>(seq)].last_used = clock_;
    }
}

void DecodeContext::forget(SessionId session) {
    for (llama_seq_id seq = 0; seq < static_cast<llama_seq_id>(owners_.size()); ++seq) {
        Owner & owner = owners_[static_cast<size_t>(seq)];
        if (owner.session != session) continue;
        if (!owner.busy) {
            kv_.clear(seq);
            owner = Owner{};
        }
    }
}

size_t DecodeContext::evict_idle(size_t cells) {
    std::vector<llama_seq_id> idle;
    for (llama_seq_id seq = 0; seq < static_cast<llama_seq_id>(owners_.size()); ++seq) {
        if (!owners_[static_cast<size_t>(seq)].busy && !kv_.tokens(seq).empty()) idle.push_back(seq);
    }
    std::stable_sort(idle.begin(), idle.end(), [&](llama_seq_id a, llama_seq_id b) {
        return owners_[static_cast<size_t>(a)].last_used < owners_[static_cast<size_t>(b)].last_used;
    });
    size_t freed = 0;
    for (size_t i = 0; i < idle.size() && freed < cells; ++i) {
        freed += kv_.tokens(idle[i]).size();
        kv_.clear(idle[i]);
    }
    return freed;
}

int32_t DecodeContext::busy_sequences() const {
    return static_cast<int32_t>(std::count_if(owners_.begin(), owners_.end(), [](const Owner & o) { return o.busy; }));
}

}  // namespace amulet
