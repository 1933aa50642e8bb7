#include "engine/realigned_decoder.h"

#include <algorithm>
#include <limits>
#include <new>
#include <stdexcept>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "engine/engine_error.h"
#include "engine/llama_calls.h"
#include "sampler/realign_math.h"

namespace amulet {

namespace {

using Clock = std::chrono::steady_clock;

double elapsed_ms(Clock::time_point since) {
    return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

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

RealignedDecoder::~RealignedDecoder() { free_context(); }

void RealignedDecoder::free_context() {
    const bool had_context = ctx_ != nullptr;
    detach_backend_samplers();
    chain_.reset();  // the realign sampler points at the context it was made for
    realign_ = nullptr;
    batch_.reset();
    ctx_.reset();
    n_sequences_ = 0;
    slots_.reset(nullptr, 0, 0);
#if defined(__GLIBC__)
    // A context's buffers (KV cache, compute buffers) are tens of MB. Once one
    // mmapped buffer has been freed, glibc raises its mmap threshold, so the
    // next contexts are carved from the heap, and freeing them leaves free
    // pages that the process keeps: sessions created and disposed one after
    // another would grow the RSS without bound. Hand those pages back.
    if (had_context) malloc_trim(0);
#else
    (void) had_context;
#endif
}

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
    if (ctx_ && n_sequences_ >= n_sequences) return;
    free_context();
    // A batch carries at least one token per sequence (every generation step).
    const int32_t batch_size = std::max(options_.batch_size, n_sequences);
    llama_context_params params = llama_context_default_params();
    params.n_ctx = static_cast<uint32_t>(options_.context_size) * static_cast<uint32_t>(n_sequences);
    params.n_batch = static_cast<uint32_t>(batch_size);
    params.n_ubatch = static_cast<uint32_t>(options_.batch_size);
    params.n_seq_max = static_cast<uint32_t>(n_sequences);
    // Every decode asks for at most one row per sequence; a backend sampler
    // is then sized for one (and the dist sampler draws as on the CPU).
    params.n_outputs_max_per_seq = 1;
    // One KV stream per sequence: a sequence attends only to its own cells, so
    // a batched step computes what a single-sequence step would.
    params.kv_unified = false;
    ctx_ = create_context(*model_, params, resolve_threads(options_.threads),
                          std::to_string(n_sequences) + " sequences of " + std::to_string(options_.context_size) +
                              " tokens");
    batch_ = std::make_unique<BatchHandle>(batch_size, n_sequences);
    n_sequences_ = n_sequences;
    slots_.reset(ctx_.get(), n_sequences, llama_model_n_swa(model_->get()));
}

std::vector<std::vector<llama_token>> RealignedDecoder::render_prompts(const Plan & plan,
                                                                      const GenerationRequest & request,
                                                                      size_t first_turn) const {
    std::vector<std::vector<llama_token>> prompts;
    for (const auto & system_prompt : plan.system_prompts) {
        prompts.push_back(render_conversation(*model_, system_prompt, request.turns, first_turn));
    }
    return prompts;
}

std::vector<std::vector<llama_token>> RealignedDecoder::fit_prompts(const Plan & plan,
                                                                   const GenerationRequest & request) {
    const auto context = static_cast<size_t>(options_.context_size);
    const auto longest_of = [](const std::vector<std::vector<llama_token>> & prompts) {
        size_t longest = 0;
        for (const auto & prompt : prompts) longest = std::max(longest, prompt.size());
        return longest;
    };
    size_t first_turn = 0;
    std::vector<std::vector<llama_token>> prompts = render_prompts(plan, request, first_turn);
    size_t longest = longest_of(prompts);
    if (request.overflow == ContextOverflow::DropOldestTurns) {
        // Room kept for the answer: maxTokens, at most a quarter of the context.
        const size_t reserve = std::max<size_t>(1, std::min(static_cast<size_t>(request.max_tokens), context / 4));
        if (longest + reserve > context) {
            // Drop whole exchanges (a user message and the answers after it), never
            // the last message, until the prompt fills at most half the context: the
            // turns that follow then reuse the cache until the next drop, instead of
            // re-evaluating the whole shifted history every turn.
            while (longest > context / 2 && first_turn + 1 < request.turns.size()) {
                size_t next = first_turn + 1;
                while (next + 1 < request.turns.size() && request.turns[next].role != "user") ++next;
                first_turn = next;
                prompts = render_prompts(plan, request, first_turn);
                longest = longest_of(prompts);
            }
        }
    }
    if (longest + 1 > context) {
        throw EngineError(error_code::kContextFull,
                          "the prompt has " + std::to_string(longest) + " tokens but the context holds " +
                              std::to_string(options_.context_size) + " per sequence" +
                              (first_turn > 0 ? " (after dropping every earlier turn)" : ""));
    }
    stats_.prompt_tokens = static_cast<int32_t>(longest);
    stats_.dropped_messages = static_cast<int32_t>(first_turn);
    return prompts;
}

void RealignedDecoder::begin(const GenerationRequest & request, const std::atomic<bool> * abort) {
    finished_ = true;
    stats_ = GenerationStats{};
    Plan plan = plan_sequences(request);
    const auto n_sequences = static_cast<int32_t>(plan.system_prompts.size());
    const std::vector<std::vector<llama_token>> prompts = fit_prompts(plan, request);

    ensure_context(n_sequences);
    abort_ = abort;
    set_abort_flag(ctx_.get(), abort);
    detach_backend_samplers();
    chain_.reset();
    realign_ = nullptr;
    if (plan.realigns) {
        try {
            realign_ = realign_sampler_init(ctx_.get(), plan.realign, request.trace,
                                            is_shift_invariant(request.sampling));
        } catch (const std::invalid_argument & error) {
            throw EngineError(error_code::kInvalidOption, error.what());
        }
    }
    chain_ = build_sampler_chain(realign_, request.sampling, model_->n_vocab());
    greedy_ = is_plain_greedy(request.sampling);
    capture_logits_ = request.capture_logits;
    on_backend_ = wants_backend(request, n_sequences);
    // A capture reads the realigned row, so only then does the chain keep it.
    if (on_backend_ && !capture_logits_) llama_sampler_chain_add(chain_.get(), token_only_sampler_init());
    stats_.on_backend = on_backend_;
    guidance_scale_ = amulet::guidance_scale(plan.realign);
    max_tokens_ = request.max_tokens;
    fault_ = request.fault;
    stats_.sequences = n_sequences;
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
    const size_t n = prompts.size();
    // What the cache holds after a failed or aborted decode of an earlier turn.
    slots_.resync();
    slot_of_ = assign_slots(prompts, slots_.all());
    // Before the first decode: the last prompt decode samples the first token.
    if (on_backend_) attach_backend_samplers();

    // 1. Each sequence keeps the longest prefix its KV sequence shares with its
    //    prompt, less the last token, whose logits start the generation.
    std::vector<size_t> keep(n);
    for (size_t i = 0; i < n; ++i) {
        const size_t shared = std::min(common_prefix(prompts[i], slots_.tokens(slot_of_[i])), prompts[i].size() - 1);
        keep[i] = slots_.truncate(slot_of_[i], shared);
        stats_.reused_tokens += static_cast<int32_t>(keep[i]);
    }

    BatchHandle & batch = *batch_;
    batch.clear();
    const auto add = [&](size_t i, size_t position, bool wants_logits) {
        const llama_seq_id slot = slot_of_[i];
        slots_.append(slot, prompts[i][position]);
        ++stats_.evaluated_tokens;
        return batch.add(prompts[i][position], static_cast<llama_pos>(position), slot, wants_logits);
    };
    const auto flush = [&](bool when_full) {
        if (batch.size() > 0 && (!when_full || batch.size() == batch.capacity())) {
            decode_batch("prompt");
            batch.clear();
        }
    };

    // 2. Tokens that other prompts share with prompt 0 beyond what their own
    //    sequence holds (all of them in a new context: the system prompt) are
    //    evaluated once, on prompt 0's sequence, and copied.
    constexpr size_t kMinCopyGain = 4;  // a copy moves a whole KV stream: not worth it for fewer tokens
    std::vector<size_t> copy_to(n, 0);
    size_t shared_end = keep[0];
    for (size_t i = 1; i < n; ++i) {
        const size_t shared = std::min({common_prefix(prompts[i], prompts[0]), prompts[i].size() - 1,
                                        prompts[0].size() - 1});
        if (shared >= keep[i] + kMinCopyGain) {
            copy_to[i] = shared;
            shared_end = std::max(shared_end, shared);
        }
    }
    for (size_t position = keep[0]; position < shared_end; ++position) {
        add(0, position, false);
        flush(true);
    }
    flush(false);
    keep[0] = std::max(keep[0], shared_end);
    for (size_t i = 1; i < n; ++i) {
        if (copy_to[i] > 0) keep[i] = slots_.copy_prefix(slot_of_[0], slot_of_[i], copy_to[i]);
    }

    // 3. Each sequence's own part, packed together.
    for (size_t i = 0; i < n; ++i) {
        for (size_t position = keep[i]; position + 1 < prompts[i].size(); ++position) {
            add(i, position, false);
            flush(true);
        }
    }
    flush(false);
    // 4. The last token of every sequence, whose logits start the generation.
    rows_.assign(n, 0);
    for (size_t i = 0; i < n; ++i) rows_[i] = add(i, prompts[i].size() - 1, true);
    decode_batch("prompt");
}

void RealignedDecoder::decode_batch(const char * stage) {
    checked_decode(ctx_.get(), batch_->get(), stage, abort_, "generation");
}

void RealignedDecoder::decode_next_token() {
    BatchHandle & batch = *batch_;
    batch.clear();
    for (size_t i = 0; i < slot_of_.size(); ++i) {
        const llama_seq_id slot = slot_of_[i];
        const auto position = static_cast<llama_pos>(slots_.tokens(slot).size());
        slots_.append(slot, last_token_);
        rows_[i] = batch.add(last_token_, position, slot, true);
    }
    decode_batch("generation");
}

void RealignedDecoder::inject_fault() {
    switch (fault_.kind) {
        case FaultInjection::Kind::None: return;
        case FaultInjection::Kind::Exception: throw std::runtime_error("injected C++ exception (test hook)");
        case FaultInjection::Kind::Allocation: {
            // A real allocation that cannot succeed: more than half the address space.
            volatile size_t huge = std::numeric_limits<size_t>::max() / 2;
            void * memory = ::operator new(huge);
            ::operator delete(memory);
            return;
        }
        case FaultInjection::Kind::Decode: {
            // A real llama_decode call that fails: the batch holds a token id outside the vocabulary.
            BatchHandle & batch = *batch_;
            batch.clear();
            for (const llama_seq_id slot : slot_of_) {
                batch.add(model_->n_vocab(), static_cast<llama_pos>(slots_.tokens(slot).size()), slot, true);
            }
            decode_batch("generation");
            return;
        }
    }
}

std::string RealignedDecoder::finish_text() {
    std::string rest = utf8_.finish();
    // A character cut off by maxTokens or a full context is dropped rather than shown as U+FFFD.
    return finish_reason_ == FinishReason::Stop ? rest : std::string();
}

bool RealignedDecoder::wants_backend(const GenerationRequest & request, int32_t n_sequences) const {
    if (request.realign_on == RealignOn::Cpu) return false;
    if (request.realign_on == RealignOn::Auto && !model_->logits_on_gpu()) return false;
    // The graph combines rows of one micro-batch, so every sequence's row must be in it.
    if (n_sequences > options_.batch_size) return false;
    if (realign_ != nullptr && !realign_sampler_backend_capable(realign_)) return false;
    // A capture reads the realigned row as the sampled logits, which filters would cut down.
    if (request.capture_logits && !greedy_) return false;
    return backend_samplable(request.sampling);
}

void RealignedDecoder::attach_backend_samplers() {
    if (realign_ != nullptr) realign_sampler_set_sequences(realign_, slot_of_.data(), slot_of_.size());
    const size_t primary = slot_of_.size() > 1 ? 1 : 0;
    for (size_t i = 0; i < slot_of_.size(); ++i) {
        llama_sampler * sampler = chain_.get();
        if (i != primary) {
            // Left without a backend sampler, a sequence makes llama.cpp copy
            // every raw row of the batch to the host: what a capture wants.
            if (capture_logits_) continue;
            llama_sampler_chain_params params = llama_sampler_chain_default_params();
            params.no_perf = true;
            SamplerHandle companion(llama_sampler_chain_init(params));
            llama_sampler_chain_add(companion.get(), token_only_sampler_init());
            sampler = companion.get();
            companions_.push_back(std::move(companion));
        }
        attached_.push_back(slot_of_[i]);
        if (!llama_set_sampler(ctx_.get(), slot_of_[i], sampler)) {
            throw EngineError(error_code::kDecode, "llama.cpp cannot run the sampler of sequence " +
                                                       std::to_string(slot_of_[i]) + " on the backend");
        }
    }
}

void RealignedDecoder::detach_backend_samplers() {
    // llama.cpp holds the samplers by pointer: they are detached before they are freed.
    for (const llama_seq_id seq : attached_) llama_set_sampler(ctx_.get(), seq, nullptr);
    attached_.clear();
    companions_.clear();
}

llama_token RealignedDecoder::sample(int32_t primary_row) {
    if (on_backend_) {
        const llama_token token = llama_get_sampled_token_ith(ctx_.get(), primary_row);
        if (token == LLAMA_TOKEN_NULL) throw EngineError(error_code::kDecode, "the backend sampler produced no token");
        llama_sampler_accept(chain_.get(), token);  // as llama_sampler_sample does: the chain's state follows the token
        return token;
    }
    if (!greedy_) return llama_sampler_sample(chain_.get(), ctx_.get(), primary_row);
    if (realign_ != nullptr) return realign_sampler_sample_greedy(realign_);
    const float * logits = llama_get_logits_ith(ctx_.get(), primary_row);
    if (logits == nullptr) throw EngineError(error_code::kDecode, "no logits for the sampled row");
    return greedy_token(logits, static_cast<size_t>(model_->n_vocab()));
}

std::vector<float> RealignedDecoder::backend_log_probs(int32_t primary_row) const {
    const auto n_vocab = static_cast<size_t>(model_->n_vocab());
    const float * logits = llama_get_sampled_logits_ith(ctx_.get(), primary_row);
    if (logits == nullptr || llama_get_sampled_logits_count_ith(ctx_.get(), primary_row) != n_vocab) {
        throw EngineError(error_code::kDecode, "the backend sampler returned no realigned row");
    }
    std::vector<float> log_probs(n_vocab);
    log_softmax(logits, n_vocab, log_probs.data());
    return log_probs;
}

std::optional<GeneratedToken> RealignedDecoder::next() {
    if (finished_) return std::nullopt;
    if (aborted()) throw EngineError(error_code::kAborted, "generation was aborted");
    if (fault_.kind != FaultInjection::Kind::None && stats_.generated_tokens == fault_.at_token) inject_fault();
    if (last_token_ >= 0) {
        size_t longest = 0;
        for (const llama_seq_id slot : slot_of_) longest = std::max(longest, slots_.tokens(slot).size());
        if (longest >= static_cast<size_t>(options_.context_size)) {
            finished_ = true;
            finish_reason_ = FinishReason::ContextFull;
            return std::nullopt;
        }
        decode_next_token();
    }

    const Clock::time_point sample_start = Clock::now();
    if (realign_ != nullptr) realign_sampler_set_rows(realign_, rows_.data(), rows_.size());
    const int32_t primary_row = rows_[rows_.size() > 1 ? 1 : 0];
    const llama_token token = sample(primary_row);
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
            if (on_backend_) {
                generated.captured_log_probs = backend_log_probs(primary_row);
            } else {
                const float * log_probs = realign_sampler_last_log_probs(realign_);
                generated.captured_log_probs.assign(log_probs, log_probs + n_vocab);
            }
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
