#include "engine/scorer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "engine/engine_error.h"
#include "engine/llama_calls.h"
#include "sampler/realign_math.h"

namespace amulet {

namespace {

using Clock = std::chrono::steady_clock;

// Rows kept per decode: each row is n_vocab floats (0.6 MB on a 152k
// vocabulary), so a long continuation is scored in slices rather than with
// one output buffer of hundreds of megabytes.
constexpr int32_t kMaxRowsPerDecode = 64;

}  // namespace

Scorer::Scorer(std::shared_ptr<LoadedModel> model, ContextOptions options)
    : model_(std::move(model)), options_(options) {}

void Scorer::ensure_context() {
    if (ctx_) return;
    llama_context_params params = llama_context_default_params();
    params.n_ctx = static_cast<uint32_t>(options_.context_size);
    params.n_batch = static_cast<uint32_t>(options_.batch_size);
    params.n_ubatch = static_cast<uint32_t>(options_.batch_size);
    params.n_seq_max = 1;
    params.kv_unified = false;  // as a session's context: the same KV layout and kernels
    ctx_ = create_context(*model_, params, resolve_threads(options_.threads),
                          "scoring (" + std::to_string(options_.context_size) + " tokens)");
    batch_ = std::make_unique<BatchHandle>(options_.batch_size, 1);
    cache_.reset(ctx_.get(), 1, llama_model_n_swa(model_->get()), false);
}

std::vector<llama_token> Scorer::continuation_tokens(const ScoreRequest & request) const {
    std::vector<llama_token> tokens = request.continuation;
    if (!request.continuation_text.empty()) {
        const std::string & text = request.continuation_text;
        tokens.assign(text.size() + 1, 0);
        int32_t n = llama_tokenize(model_->vocab(), text.data(), static_cast<int32_t>(text.size()), tokens.data(),
                                   static_cast<int32_t>(tokens.size()), false, false);
        if (n < 0) {
            tokens.resize(static_cast<size_t>(-n));
            n = llama_tokenize(model_->vocab(), text.data(), static_cast<int32_t>(text.size()), tokens.data(),
                               static_cast<int32_t>(tokens.size()), false, false);
        }
        if (n < 0) throw EngineError(error_code::kNative, "tokenisation of the continuation failed");
        tokens.resize(static_cast<size_t>(n));
    }
    if (tokens.empty()) throw EngineError(error_code::kInvalidOption, "the continuation has no tokens");
    const llama_token n_vocab = model_->n_vocab();
    for (const llama_token token : tokens) {
        if (token < 0 || token >= n_vocab) {
            throw EngineError(error_code::kInvalidOption, "continuation token " + std::to_string(token) +
                                                              " is outside the vocabulary (0 to " +
                                                              std::to_string(n_vocab - 1) + ")");
        }
    }
    return tokens;
}

ScoreResult Scorer::score(const ScoreRequest & request, const std::atomic<bool> * abort) {
    const Clock::time_point start = Clock::now();
    ScoreResult result;
    result.tokens = continuation_tokens(request);
    const std::vector<llama_token> prompt =
        render_conversation(*model_, request.system_prompt, request.turns, 0, std::chrono::system_clock::now());
    result.prompt_tokens = static_cast<int32_t>(prompt.size());
    std::vector<llama_token> all = prompt;
    all.insert(all.end(), result.tokens.begin(), result.tokens.end());
    // The last continuation token is only predicted, never decoded.
    const size_t decoded_end = all.size() - 1;
    if (all.size() > static_cast<size_t>(options_.context_size)) {
        throw EngineError(error_code::kContextFull, "the prompt and the continuation have " + std::to_string(all.size()) +
                                                        " tokens but the scoring context holds " +
                                                        std::to_string(options_.context_size));
    }

    ensure_context();
    // The flag lives only as long as this call: llama.cpp forgets it on every way out.
    struct AbortScope {
        llama_context * ctx;
        ~AbortScope() { set_abort_flag(ctx, nullptr); }
    } abort_scope{ctx_.get()};
    set_abort_flag(ctx_.get(), abort);
    cache_.resync();
    // The row of position p predicts token p + 1: every row from the last prompt token on is needed.
    const size_t first_row = prompt.size() - 1;
    const size_t keep = cache_.truncate(0, std::min(common_prefix(all, cache_.tokens(0)), first_row));
    result.reused_tokens = static_cast<int32_t>(keep);

    const auto n_vocab = static_cast<size_t>(model_->n_vocab());
    result.log_probs.resize(result.tokens.size());
    BatchHandle & batch = *batch_;
    size_t position = keep;
    while (position < decoded_end) {
        batch.clear();
        int32_t rows = 0;
        const size_t slice_start = position;
        // The prompt's last token starts a decode of its own, as a generation's prompt evaluation does: the
        // first row is then computed in the same batch shape as the row a generation samples its first token from.
        const size_t slice_end = position < first_row ? first_row : decoded_end;
        while (position < slice_end && batch.size() < batch.capacity() && rows < kMaxRowsPerDecode) {
            const bool wants_row = position >= first_row;
            rows += wants_row ? 1 : 0;
            cache_.append(0, all[position]);
            batch.add(all[position], static_cast<llama_pos>(position), 0, wants_row);
            ++position;
        }
        checked_decode(*model_, ctx_.get(), batch.get(), "scoring", cancel_on(abort), "scoring");
        result.evaluated_tokens += batch.size();
        for (size_t p = std::max(slice_start, first_row); p < position; ++p) {
            const float * row = llama_get_logits_ith(ctx_.get(), static_cast<int32_t>(p - slice_start));
            if (row == nullptr) throw EngineError(error_code::kDecode, "llama.cpp returned no logits for a scored row");
            const llama_token next = all[p + 1];
            const float lse = log_sum_exp(row, n_vocab);
            result.log_probs[p - first_row] = std::isfinite(row[next]) && std::isfinite(lse)
                                                  ? row[next] - lse
                                                  : -std::numeric_limits<float>::infinity();
        }
    }
    result.ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    return result;
}

}  // namespace amulet
