#include "engine/beam_search.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "engine/engine_error.h"
#include "engine/llama_calls.h"
#include "engine/utf8_stream.h"
#include "sampler/realign_math.h"

namespace amulet {

namespace {

using Clock = std::chrono::steady_clock;

double elapsed_ms(Clock::time_point since) {
    return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

// Two sequence ids per beam: while a step reassigns beams, the parents still
// hold their cells and the children may need fresh ids to copy them into.
constexpr int32_t kSequencesPerBeam = 2;
constexpr int32_t kMaxBeams = 128;  // 2 x 128 = llama.cpp's LLAMA_MAX_SEQ

// One way to extend a live beam by one token.
struct Candidate {
    size_t parent;
    llama_token token;
    double sum_log_prob;
};

}  // namespace

BeamSearch::BeamSearch(std::shared_ptr<LoadedModel> model, BeamSearchRequest request)
    : model_(std::move(model)), request_(std::move(request)) {}

double BeamSearch::score_of(const Hypothesis & hypothesis) const {
    const double length = std::max<size_t>(1, hypothesis.tokens.size());
    return hypothesis.sum_log_prob / std::pow(length, request_.length_penalty);
}

void BeamSearch::create_context(int32_t prompt_tokens) {
    const int32_t beams = request_.beams;
    llama_context_params params = llama_context_default_params();
    // Worst case: no beam shares a generated token with another.
    params.n_ctx = static_cast<uint32_t>(prompt_tokens + beams * (request_.max_tokens + 1));
    params.n_batch = static_cast<uint32_t>(std::max(request_.batch_size, beams));
    params.n_ubatch = static_cast<uint32_t>(request_.batch_size);
    params.n_seq_max = static_cast<uint32_t>(beams * kSequencesPerBeam);
    // Unified: llama_memory_seq_cp then shares cells instead of copying a whole stream.
    params.kv_unified = true;
    ctx_ = amulet::create_context(*model_, params, resolve_threads(request_.threads),
                                  "a beam search of " + std::to_string(beams) + " beams");
    batch_ = std::make_unique<BatchHandle>(static_cast<int32_t>(params.n_batch), 1);
    set_abort_flag(ctx_.get(), abort_);
}

void BeamSearch::decode(const char * stage) {
    checked_decode(*model_, ctx_.get(), batch_->get(), stage, cancel_on(abort_), "the beam search");
}

void BeamSearch::evaluate_prompt(const std::vector<llama_token> & prompt) {
    BatchHandle & batch = *batch_;
    batch.clear();
    for (size_t position = 0; position < prompt.size(); ++position) {
        batch.add(prompt[position], static_cast<llama_pos>(position), 0, position + 1 == prompt.size());
        if (batch.size() == batch.capacity() && position + 1 < prompt.size()) {
            decode("prompt");
            batch.clear();
        }
    }
    decode("prompt");
}

BeamSearchResult BeamSearch::run(const std::atomic<bool> * abort) {
    if (request_.beams < 1 || request_.beams > kMaxBeams) {
        throw EngineError(error_code::kInvalidOption, "beams must be an integer in [1, " + std::to_string(kMaxBeams) + "]");
    }
    if (request_.max_tokens < 1) throw EngineError(error_code::kInvalidOption, "maxTokens must be >= 1");
    abort_ = abort;
    BeamSearchResult result;
    const std::vector<llama_token> prompt = render_conversation(
        *model_, join_system_prompt(request_.system_prompt, request_.preference_texts), request_.turns, 0,
        std::chrono::system_clock::now());
    result.prompt_tokens = static_cast<int32_t>(prompt.size());

    const Clock::time_point start = Clock::now();
    create_context(result.prompt_tokens);
    evaluate_prompt(prompt);
    result.prompt_ms = elapsed_ms(start);
    const Clock::time_point generation_start = Clock::now();

    const auto beams = static_cast<size_t>(request_.beams);
    const int32_t n_vocab = model_->n_vocab();
    const llama_vocab * vocab = model_->vocab();
    llama_memory_t memory = llama_get_memory(ctx_.get());
    order_.resize(static_cast<size_t>(n_vocab));

    std::vector<Hypothesis> live{Hypothesis{{}, 0.0, 0}};
    std::vector<int32_t> rows{batch_->size() - 1};  // output row of each live beam in the last decode
    std::vector<Hypothesis> finished;
    std::vector<Candidate> candidates;
    std::vector<bool> seq_in_use(beams * kSequencesPerBeam, false);
    seq_in_use[0] = true;

    for (int32_t step = 0; step < request_.max_tokens && !live.empty(); ++step) {
        if (aborted()) throw EngineError(error_code::kAborted, "the beam search was aborted");
        // 1. The `beams` best continuations of every live beam: enough to fill
        //    the next beam set even if they all come from one parent.
        candidates.clear();
        const auto per_beam = std::min(beams, static_cast<size_t>(n_vocab));
        for (size_t b = 0; b < live.size(); ++b) {
            const float * logits = llama_get_logits_ith(ctx_.get(), rows[b]);
            const double log_normaliser = log_sum_exp(logits, static_cast<size_t>(n_vocab));
            std::iota(order_.begin(), order_.end(), 0);
            // Ties go to the lower token id, like the greedy sampler's argmax.
            const auto better = [logits](llama_token a, llama_token b) {
                return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
            };
            std::partial_sort(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(per_beam), order_.end(),
                              better);
            for (size_t k = 0; k < per_beam; ++k) {
                const llama_token token = order_[k];
                if (!std::isfinite(logits[token])) break;
                candidates.push_back({b, token, live[b].sum_log_prob + (logits[token] - log_normaliser)});
            }
        }
        // Every candidate has the same length, so the raw sum ranks them.
        std::stable_sort(candidates.begin(), candidates.end(),
                         [](const Candidate & a, const Candidate & b) { return a.sum_log_prob > b.sum_log_prob; });

        // 2. The next beam set: the best `beams` candidates. An end-of-generation
        //    token among them closes a hypothesis (its log-prob counts: the
        //    model's confidence in stopping there) and frees its place.
        std::vector<Hypothesis> next;
        std::vector<bool> parent_seq_taken(live.size(), false);
        std::vector<llama_token> next_tokens;
        for (size_t rank = 0; rank < candidates.size() && rank < beams && next.size() < beams; ++rank) {
            const Candidate & candidate = candidates[rank];
            Hypothesis child{live[candidate.parent].tokens, candidate.sum_log_prob, -1};
            child.tokens.push_back(candidate.token);
            if (llama_vocab_is_eog(vocab, candidate.token)) {
                finished.push_back(std::move(child));
                continue;
            }
            next.push_back(std::move(child));
            next_tokens.push_back(candidate.token);
            // The first child keeps its parent's sequence; later ones get a copy of its cells.
            if (!parent_seq_taken[candidate.parent]) {
                parent_seq_taken[candidate.parent] = true;
                next.back().seq = live[candidate.parent].seq;
            } else {
                const auto free_seq = static_cast<llama_seq_id>(
                    std::find(seq_in_use.begin(), seq_in_use.end(), false) - seq_in_use.begin());
                seq_in_use[static_cast<size_t>(free_seq)] = true;
                llama_memory_seq_cp(memory, live[candidate.parent].seq, free_seq, -1, -1);
                next.back().seq = free_seq;
            }
        }
        for (size_t b = 0; b < live.size(); ++b) {
            if (parent_seq_taken[b]) continue;
            llama_memory_seq_rm(memory, live[b].seq, -1, -1);
            seq_in_use[static_cast<size_t>(live[b].seq)] = false;
        }
        live = std::move(next);
        // Stop once `beams` hypotheses have ended (Hugging Face's early_stopping=True):
        // with one beam this is exactly greedy decoding.
        if (finished.size() >= beams || live.empty() || step + 1 == request_.max_tokens) break;

        // 3. One decode appends every live beam's new token.
        BatchHandle & batch = *batch_;
        batch.clear();
        rows.assign(live.size(), 0);
        for (size_t b = 0; b < live.size(); ++b) {
            const auto position = static_cast<llama_pos>(prompt.size() + live[b].tokens.size() - 1);
            rows[b] = batch.add(next_tokens[b], position, live[b].seq, true);
        }
        decode("generation");
        result.decoded_tokens += static_cast<int32_t>(live.size());
    }
    result.generation_ms = elapsed_ms(generation_start);

    // Hypotheses still open at the end compete with the closed ones.
    const size_t closed = finished.size();
    for (auto & hypothesis : live) finished.push_back(std::move(hypothesis));
    size_t best = 0;
    for (size_t i = 1; i < finished.size(); ++i) {
        if (score_of(finished[i]) > score_of(finished[best])) best = i;
    }
    if (finished.empty()) throw EngineError(error_code::kDecode, "the beam search found no hypothesis");
    Hypothesis & chosen = finished[best];
    result.stopped = best < closed;
    result.sum_log_prob = chosen.sum_log_prob;
    result.score = score_of(chosen);
    if (result.stopped) chosen.tokens.pop_back();  // the end-of-generation token has no text
    Utf8Stream utf8;
    for (const llama_token token : chosen.tokens) result.text += utf8.push(token_bytes(*model_, token));
    result.text += utf8.finish();
    result.tokens = std::move(chosen.tokens);
    return result;
}

}  // namespace amulet
