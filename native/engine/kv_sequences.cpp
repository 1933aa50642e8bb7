#include "engine/kv_sequences.h"

#include <algorithm>

namespace amulet {

size_t common_prefix(const std::vector<llama_token> & a, const std::vector<llama_token> & b) {
    const size_t n = std::min(a.size(), b.size());
    return static_cast<size_t>(std::mismatch(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(n), b.begin()).first -
                               a.begin());
}

std::vector<llama_seq_id> assign_sequences(const std::vector<std::vector<llama_token>> & prompts,
                                       const std::vector<std::vector<llama_token>> & cached) {
    const size_t n = prompts.size();
    const size_t m = cached.size();
    std::vector<std::vector<size_t>> shared(n, std::vector<size_t>(m));
    for (size_t i = 0; i < n; ++i) {
        for (size_t j = 0; j < m; ++j) shared[i][j] = common_prefix(prompts[i], cached[j]);
    }
    std::vector<llama_seq_id> sequence(n, -1);
    std::vector<bool> taken(m, false);
    for (size_t round = 0; round < n; ++round) {
        size_t best_i = n;
        size_t best_j = m;
        for (size_t i = 0; i < n; ++i) {
            if (sequence[i] >= 0) continue;
            for (size_t j = 0; j < m; ++j) {
                if (taken[j]) continue;
                const bool better = best_i == n || shared[i][j] > shared[best_i][best_j] ||
                                    (shared[i][j] == shared[best_i][best_j] && j == i && best_j != best_i);
                if (better) {
                    best_i = i;
                    best_j = j;
                }
            }
        }
        sequence[best_i] = static_cast<llama_seq_id>(best_j);
        taken[best_j] = true;
    }
    return sequence;
}

void KvSequences::reset(llama_context * ctx, int32_t n_sequences, int32_t n_swa, bool unified) {
    ctx_ = ctx;
    n_swa_ = n_swa;
    unified_ = unified;
    tokens_.assign(static_cast<size_t>(std::max(n_sequences, 0)), {});
}

void KvSequences::resync() {
    if (ctx_ == nullptr) return;
    llama_memory_t memory = llama_get_memory(ctx_);
    for (llama_seq_id sequence = 0; sequence < size(); ++sequence) {
        auto & list = tokens_[static_cast<size_t>(sequence)];
        const auto held = static_cast<size_t>(std::max<llama_pos>(llama_memory_seq_pos_max(memory, sequence) + 1, 0));
        if (held < list.size()) list.resize(held);
        if (held > list.size()) llama_memory_seq_rm(memory, sequence, static_cast<llama_pos>(list.size()), -1);
    }
}

bool KvSequences::window_intact(llama_seq_id sequence, size_t keep) const {
    if (n_swa_ <= 0 || keep == 0) return true;
    // Position `keep` attends back n_swa positions: they must all still be there
    // (the threshold llama.cpp's server uses for the same decision).
    const llama_pos first = llama_memory_seq_pos_min(llama_get_memory(ctx_), sequence);
    return first <= std::max<llama_pos>(0, static_cast<llama_pos>(keep) - n_swa_);
}

size_t KvSequences::truncate(llama_seq_id sequence, size_t keep) {
    auto & list = tokens_[static_cast<size_t>(sequence)];
    keep = std::min(keep, list.size());
    llama_memory_t memory = llama_get_memory(ctx_);
    if (!llama_memory_seq_rm(memory, sequence, static_cast<llama_pos>(keep), -1) || !window_intact(sequence, keep)) {
        llama_memory_seq_rm(memory, sequence, -1, -1);  // removing a whole sequence never fails
        keep = 0;
    }
    list.resize(keep);
    return keep;
}

size_t KvSequences::copy_prefix(llama_seq_id from, llama_seq_id to, size_t keep) {
    llama_memory_t memory = llama_get_memory(ctx_);
    const auto & source = tokens_[static_cast<size_t>(from)];
    keep = std::min(keep, source.size());
    if (unified_) {
        llama_memory_seq_rm(memory, to, -1, -1);
        llama_memory_seq_cp(memory, from, to, 0, static_cast<llama_pos>(keep));
        tokens_[static_cast<size_t>(to)].assign(source.begin(), source.begin() + static_cast<std::ptrdiff_t>(keep));
        if (!window_intact(to, keep)) keep = truncate(to, 0);
        return keep;
    }
    // Across streams only a whole-sequence copy is supported; it replaces `to` entirely.
    llama_memory_seq_cp(memory, from, to, -1, -1);
    tokens_[static_cast<size_t>(to)] = source;
    return truncate(to, keep);
}

size_t KvSequences::total() const {
    size_t total = 0;
    for (const auto & list : tokens_) total += list.size();
    return total;
}

}  // namespace amulet
