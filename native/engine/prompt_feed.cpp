#include "engine/prompt_feed.h"

#include <algorithm>

namespace amulet {

PromptFeed::PromptFeed(DecodeContext & context, const std::vector<std::vector<llama_token>> & prompts,
                       const std::vector<llama_seq_id> & sequences)
    : context_(context), prompts_(prompts), sequences_(sequences), copy_to_(prompts.size(), 0) {
    KvSequences & kv = context_.kv();
    const size_t n = prompts_.size();
    std::vector<size_t> keep(n);
    for (size_t i = 0; i < n; ++i) {
        const size_t shared =
            std::min(common_prefix(prompts_[i], kv.tokens(sequences_[i])), prompts_[i].size() - 1);
        keep[i] = kv.truncate(sequences_[i], shared);
        reused_tokens_ += static_cast<int32_t>(keep[i]);
    }
    // Across KV streams a copy moves a whole stream: not worth it for a few tokens.
    const size_t min_gain = kv.unified() ? 1 : 4;
    shared_end_ = keep[0];
    for (size_t i = 1; i < n; ++i) {
        const size_t shared = std::min({common_prefix(prompts_[i], prompts_[0]), prompts_[i].size() - 1,
                                        prompts_[0].size() - 1});
        if (shared >= keep[i] + min_gain) {
            copy_to_[i] = shared;
            shared_end_ = std::max(shared_end_, shared);
        }
    }
}

void PromptFeed::add(size_t i, size_t position, bool wants_logits, int32_t * row) {
    const llama_seq_id seq = sequences_[i];
    context_.kv().append(seq, prompts_[i][position]);
    const int32_t added = context_.batch().add(prompts_[i][position], static_cast<llama_pos>(position), seq, wants_logits);
    if (row != nullptr) *row = added;
}

int32_t PromptFeed::feed(int32_t room, std::vector<int32_t> & rows, bool & last) {
    last = false;
    KvSequences & kv = context_.kv();
    const size_t n = prompts_.size();
    int32_t added = 0;
    // 2. The shared prefix on sequence 0, then its copies.
    for (size_t position = kv.tokens(sequences_[0]).size(); position < shared_end_ && added < room; ++position) {
        add(0, position, false, nullptr);
        ++added;
    }
    if (added > 0 || kv.tokens(sequences_[0]).size() < shared_end_) return added;
    if (!copied_) {
        for (size_t i = 1; i < n; ++i) {
            if (copy_to_[i] > 0) kv.copy_prefix(sequences_[0], sequences_[i], copy_to_[i]);
        }
        copied_ = true;
    }
    // 3. Each sequence's own part.
    for (size_t i = 0; i < n; ++i) {
        for (size_t position = kv.tokens(sequences_[i]).size(); position + 1 < prompts_[i].size() && added < room;
             ++position) {
            add(i, position, false, nullptr);
            ++added;
        }
    }
    if (added > 0) return added;
    // 4. The last tokens, all in one step.
    if (room < static_cast<int32_t>(n)) return 0;
    rows.assign(n, 0);
    for (size_t i = 0; i < n; ++i) add(i, prompts_[i].size() - 1, true, &rows[i]);
    last = true;
    return static_cast<int32_t>(n);
}

}  // namespace amulet
