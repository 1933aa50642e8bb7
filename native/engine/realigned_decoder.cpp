#include "engine/realigned_decoder.h"

#include <algorithm>
#include <thread>

#include "engine/engine_error.h"
#include "engine/llama_log.h"

namespace amulet {

namespace {

using Clock = std::chrono::steady_clock;

double elapsed_ms(Clock::time_point since) {
    return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

std::string join_system_prompt(const std::string & system_prompt, const std::vector<std::string> & additions) {
    std::string joined = system_prompt;
    for (const auto & text : additions) {
        if (!joined.empty()) joined += ' ';
        joined += text;
    }
    return joined;
}

size_t common_prefix_length(const std::vector<std::vector<llama_token>> & prompts) {
    size_t n = prompts[0].size();
    for (const auto & prompt : prompts) {
        const auto mismatch = std::mismatch(prompts[0].begin(), prompts[0].begin() + std::min(n, prompt.size()),
                                            prompt.begin());
        n = static_cast<size_t>(mismatch.first - prompts[0].begin());
    }
    return n;
}

bool abort_requested(void * flag) { return static_cast<const std::atomic<bool> *>(flag)->load(); }

}  // namespace

const char * finish_reason_name(FinishReason reason) {
    switch (reason) {
        case FinishReason::Stop: return "stop";
        case FinishReason::MaxTokens: return "maxTokens";
        case FinishReason::ContextFull: return "contextFull";
        case FinishReason::Aborted: return "aborted";
    }
    return "stop";
}

// Which sequences a request decodes, with which system prompt, and the
// realignment over them. base/pref decode one sequence unless a trace asks to
// compare against the other.
struct RealignedDecoder::Plan {
    std::vector<std::string> system_prompts;  // [0] is base when realigning
    RealignParams realign;
    bool realigns = false;
};

RealignedDecoder::RealignedDecoder(std::shared_ptr<LoadedModel> model, ContextOptions options)
    : model_(std::move(model)), options_(options) {}

RealignedDecoder::Plan RealignedDecoder::plan_sequences(const GenerationRequest & request) const {
    Plan plan;
    plan.realign = request.realign;
    const RealignMethod method = request.realign.method;
    const std::string & base_prompt = request.system_prompt;
    if (method != RealignMethod::Base && request.preference_texts.empty()) {
        throw EngineError(error_code::kInvalidOption, "this method needs at least one preference");
    }
    if (method == RealignMethod::Base || method == RealignMethod::Pref) {
        const std::string combined = join_system_prompt(base_prompt, request.preference_texts);
        if (request.trace) {
            plan.system_prompts = {base_prompt, combined};
            plan.realign.weights = {1.0};
            plan.realigns = true;
        } else {
            plan.system_prompts = {method == RealignMethod::Base ? base_prompt : combined};
        }
        return plan;
    }
    if (request.realign.weights.size() != request.preference_texts.size()) {
        throw EngineError(error_code::kInvalidOption, "there must be one weight per preference");
    }
    plan.system_prompts.push_back(base_prompt);
    for (const auto & text : request.preference_texts) plan.system_prompts.push_back(join_system_prompt(base_prompt, {text}));
    plan.realigns = true;
    return plan;
}

void RealignedDecoder::ensure_context(int32_t n_sequences) {
    if (ctx_ && n_sequences_ == n_sequences) return;
    chain_.reset();  // the realign sampler points at the context it was made for
    realign_ = nullptr;
    ctx_.reset();
    llama_context_params params = llama_context_default_params();
    params.n_ctx = static_cast<uint32_t>(options_.context_size) * static_cast<uint32_t>(n_sequences);
    params.n_batch = static_cast<uint32_t>(options_.batch_size);
    params.n_ubatch = static_cast<uint32_t>(options_.batch_size);
    params.n_seq_max = static_cast<uint32_t>(n_sequences);
    // One KV stream per sequence: a sequence attends only to its own cells, so
    // a batched step computes what a single-sequence step would.
    params.kv_unified = false;
    const int32_t threads =
        options_.threads > 0 ? options_.threads : static_cast<int32_t>(std::max(1u, std::thread::hardware_concurrency()));
    params.n_threads = threads;
    params.n_threads_batch = threads;
    params.no_perf = true;
    take_llama_log_errors();
    ctx_.reset(llama_init_from_model(model_->get(), params));
    if (!ctx_) {
        const std::string why = take_llama_log_errors();
        throw EngineError(error_code::kContextCreate, "failed to create a context" + (why.empty() ? "" : ": " + why));
    }
    batch_ = std::make_unique<BatchHandle>(std::max(options_.batch_size, n_sequences), n_sequences);
    n_sequences_ = n_sequences;
}

void RealignedDecoder::begin(const GenerationRequest & request, const std::atomic<bool> * abort) {
    finished_ = true;
    Plan plan = plan_sequences(request);
    const auto n_sequences = static_cast<int32_t>(plan.system_prompts.size());

    std::vector<std::vector<llama_token>> prompts;
    for (const auto & system_prompt : plan.system_prompts) {
        std::vector<ChatMessage> messages;
        if (!system_prompt.empty()) messages.push_back({"system", system_prompt});
        messages.insert(messages.end(), request.turns.begin(), request.turns.end());
        prompts.push_back(tokenize_prompt(*model_, format_chat(*model_, messages)));
    }
    size_t longest = 0;
    for (const auto & prompt : prompts) longest = std::max(longest, prompt.size());
    if (longest + 1 > static_cast<size_t>(options_.context_size)) {
        throw EngineError(error_code::kContextFull, "the prompt has " + std::to_string(longest) +
                                                        " tokens but the context holds " +
                                                        std::to_string(options_.context_size) + " per sequence");
    }

    ensure_context(n_sequences);
    abort_ = abort;
    llama_set_abort_callback(ctx_.get(), abort != nullptr ? abort_requested : nullptr,
                             const_cast<std::atomic<bool> *>(abort));
    chain_.reset();
    realign_ = nullptr;
    if (plan.realigns) {
        try {
            realign_ = realign_sampler_init(ctx_.get(), plan.realign, request.trace);
        } catch (const std::invalid_argument & error) {
            throw EngineError(error_code::kInvalidOption, error.what());
        }
    }
    chain_ = build_sampler_chain(realign_, request.sampling, model_->n_vocab());
    guidance_scale_ = amulet::guidance_scale(plan.realign);
    capture_logits_ = request.capture_logits;
    max_tokens_ = request.max_tokens;
    stats_ = GenerationStats{};
    stats_.sequences = n_sequences;
    stats_.prompt_tokens = static_cast<int32_t>(longest);
    utf8_ = Utf8Stream();
    last_token_ = -1;
    finish_reason_ = FinishReason::Stop;

    const Clock::time_point start = Clock::now();
    evaluate_prompts(prompts);
    stats_.prompt_ms = elapsed_ms(start);
    first_token_time_ = Clock::now();  // generation time runs from the end of prompt evaluation
    finished_ = max_tokens_ <= 0;
    if (finished_) finish_reason_ = FinishReason::MaxTokens;
}

void RealignedDecoder::evaluate_prompts(const std::vector<std::vector<llama_token>> & prompts) {
    const auto n_sequences = static_cast<llama_seq_id>(prompts.size());
    size_t shortest = prompts[0].size();
    for (const auto & prompt : prompts) shortest = std::min(shortest, prompt.size());
    // Every sequence keeps at least its last token for the final, logit-producing batch.
    const size_t shared = std::min(common_prefix_length(prompts), shortest - 1);

    llama_memory_clear(llama_get_memory(ctx_.get()), true);
    BatchHandle & batch = *batch_;
    batch.clear();
    const auto flush_if_full = [&] {
        if (batch.size() == batch.capacity()) {
            decode_batch("prompt");
            batch.clear();
        }
    };
    // 1. The shared prefix, once, on sequence 0.
    for (size_t i = 0; i < shared; ++i) {
        batch.add(prompts[0][i], static_cast<llama_pos>(i), 0, false);
        flush_if_full();
    }
    if (batch.size() > 0) decode_batch("prompt");
    batch.clear();
    for (llama_seq_id s = 1; s < n_sequences; ++s) llama_memory_seq_cp(llama_get_memory(ctx_.get()), 0, s, -1, -1);
    // 2. Each sequence's own middle part, packed together.
    for (llama_seq_id s = 0; s < n_sequences; ++s) {
        for (size_t i = shared; i + 1 < prompts[s].size(); ++i) {
            batch.add(prompts[s][i], static_cast<llama_pos>(i), s, false);
            flush_if_full();
        }
    }
    if (batch.size() > 0) decode_batch("prompt");
    batch.clear();
    // 3. The last token of every sequence, whose logits start the generation.
    rows_.assign(static_cast<size_t>(n_sequences), 0);
    n_past_.assign(static_cast<size_t>(n_sequences), 0);
    for (llama_seq_id s = 0; s < n_sequences; ++s) {
        const size_t last = prompts[s].size() - 1;
        rows_[s] = batch.add(prompts[s][last], static_cast<llama_pos>(last), s, true);
        n_past_[s] = static_cast<int32_t>(prompts[s].size());
    }
    decode_batch("prompt");
    stats_.evaluated_tokens = static_cast<int32_t>(shared);
    for (const auto & prompt : prompts) stats_.evaluated_tokens += static_cast<int32_t>(prompt.size() - shared);
}

void RealignedDecoder::decode_batch(const char * stage) {
    const int32_t status = llama_decode(ctx_.get(), batch_->get());
    if (status == 0) return;
    if (status == 2 || aborted()) throw EngineError(error_code::kAborted, "generation was aborted");
    if (status == 1) {
        throw EngineError(error_code::kContextFull, std::string("no room left in the context during ") + stage);
    }
    const std::string why = take_llama_log_errors();
    throw EngineError(error_code::kDecode, std::string("llama_decode failed during ") + stage + " (status " +
                                               std::to_string(status) + ")" + (why.empty() ? "" : ": " + why));
}

void RealignedDecoder::decode_next_token() {
    BatchHandle & batch = *batch_;
    batch.clear();
    for (size_t s = 0; s < n_past_.size(); ++s) {
        rows_[s] = batch.add(last_token_, n_past_[s], static_cast<llama_seq_id>(s), true);
        ++n_past_[s];
    }
    decode_batch("generation");
}

std::string RealignedDecoder::finish_text() {
    std::string rest = utf8_.finish();
    // A character cut off by maxTokens or a full context is dropped rather than shown as U+FFFD.
    return finish_reason_ == FinishReason::Stop ? rest : std::string();
}

std::optional<GeneratedToken> RealignedDecoder::next() {
    if (finished_) return std::nullopt;
    if (aborted()) throw EngineError(error_code::kAborted, "generation was aborted");
    if (last_token_ >= 0) {
        const int32_t context_per_sequence = options_.context_size;
        if (*std::max_element(n_past_.begin(), n_past_.end()) >= context_per_sequence) {
            finished_ = true;
            finish_reason_ = FinishReason::ContextFull;
            return std::nullopt;
        }
        decode_next_token();
    }

    const Clock::time_point sample_start = Clock::now();
    if (realign_ != nullptr) realign_sampler_set_rows(realign_, rows_.data(), rows_.size());
    const int32_t primary_row = rows_[rows_.size() > 1 ? 1 : 0];
    const llama_token token = llama_sampler_sample(chain_.get(), ctx_.get(), primary_row);
    stats_.sampler_us += std::chrono::duration<double, std::micro>(Clock::now() - sample_start).count();
    stats_.generation_ms = elapsed_ms(first_token_time_);

    if (llama_vocab_is_eog(model_->vocab(), token)) {
        finished_ = true;
        finish_reason_ = FinishReason::Stop;
        return std::nullopt;
    }
    GeneratedToken generated;
    generated.token = token;
    generated.text = utf8_.push(token_bytes(*model_, token));
    if (realign_ != nullptr) {
        const TokenTrace & trace = realign_sampler_last_trace(realign_);
        if (trace.realigned_token >= 0) {
            generated.trace = trace;
            generated.trace_texts = {token_bytes(*model_, trace.base_token), token_bytes(*model_, trace.pref_token),
                                     token_bytes(*model_, trace.realigned_token)};
        }
        if (capture_logits_) {
            const auto n_vocab = static_cast<size_t>(model_->n_vocab());
            for (int32_t row : rows_) {
                const float * logits = llama_get_logits_ith(ctx_.get(), row);
                generated.captured_rows.emplace_back(logits, logits + n_vocab);
            }
            const float * log_probs = realign_sampler_last_log_probs(realign_);
            generated.captured_log_probs.assign(log_probs, log_probs + n_vocab);
        }
    }
    last_token_ = token;
    ++stats_.generated_tokens;
    if (stats_.generated_tokens >= max_tokens_) {
        finished_ = true;
        finish_reason_ = FinishReason::MaxTokens;
    }
    return generated;
}

}  // namespace amulet
