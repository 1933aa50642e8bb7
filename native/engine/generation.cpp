#include "engine/generation.h"

#include <algorithm>
#include <stdexcept>

#include "engine/echo_guard_tokens.h"
#include "engine/engine_error.h"
#include "llama-raw-logits.h"
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
// compare against the other. The library has checked the request's rules
// (a method that realigns has preferences, one weight each).
Generation::Plan Generation::plan_sequences(const GenerationRequest & request) {
    Plan plan;
    plan.realign = request.realign;
    const RealignMethod method = request.realign.method;
    const std::string & base_prompt = request.system_prompt;
    if ((method != RealignMethod::Base && request.preference_texts.empty()) ||
        request.realign.weights.size() != request.preference_texts.size()) {
        throw std::logic_error("a generation request without one weighted preference per realigned sequence");
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
    plan.system_prompts.push_back(base_prompt);
    for (const auto & text : request.preference_texts) plan.system_prompts.push_back(join_system_prompt(base_prompt, {text}));
    plan.realigns = true;
    return plan;
}

std::vector<std::vector<llama_token>> Generation::render_prompts(const GenerationRequest & request,
                                                                 size_t first_turn) const {
    std::vector<std::vector<llama_token>> prompts;
    for (const auto & system_prompt : plan_.system_prompts) {
        prompts.push_back(
            render_conversation(context_.model(), system_prompt, request.turns, first_turn, conversation_start_));
    }
    return prompts;
}

void Generation::fit_prompts(const GenerationRequest & request) {
    const auto context = static_cast<size_t>(context_.options().context_size);
    const auto longest_of = [](const std::vector<std::vector<llama_token>> & prompts) {
        size_t longest = 0;
        for (const auto & prompt : prompts) longest = std::max(longest, prompt.size());
        return longest;
    };
    size_t first_turn = 0;
    prompts_ = render_prompts(request, first_turn);
    size_t longest = longest_of(prompts_);
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
                prompts_ = render_prompts(request, first_turn);
                longest = longest_of(prompts_);
            }
        }
    }
    if (longest + 1 > context) {
        throw EngineError(error_code::kContextFull,
                          "the prompt has " + std::to_string(longest) + " tokens but the context holds " +
                              std::to_string(context_.options().context_size) + " per sequence" +
                              (first_turn > 0 ? " (after dropping every earlier turn)" : ""));
    }
    stats_.prompt_tokens = static_cast<int32_t>(longest);
    stats_.dropped_messages = static_cast<int32_t>(first_turn);
}

Generation::Generation(DecodeContext & context, const GenerationRequest & request,
                       std::chrono::system_clock::time_point conversation_start)
    : context_(context), request_(request), conversation_start_(conversation_start), stop_(request.stop) {
    plan_ = plan_sequences(request);
    const bool extrapolates = plan_.realign.method == RealignMethod::Amulet ||
                              plan_.realign.method == RealignMethod::LinearAlignment;
    if (plan_.realign.echo_guard && extrapolates) {
        for (const auto & text : request.preference_texts) {
            plan_.realign.guard_tokens.push_back(echo_guard_tokens(context_.model(), text));
        }
    }
    const auto n_sequences = static_cast<int32_t>(plan_.system_prompts.size());
    if (n_sequences > context_.max_sequences()) {
        throw EngineError(error_code::kContextFull,
                          "the request decodes " + std::to_string(n_sequences) + " sequences but the context holds " +
                              std::to_string(context_.max_sequences()));
    }
    // Checked before anything touches the context: a grammar refused leaves the session as it was.
    grammar_ = grammar_sampler(context_.model().vocab(), request.constraints);
    stats_.sequences = n_sequences;
    fit_prompts(request);
    guidance_scale_ = amulet::guidance_scale(plan_.realign);
}

Generation::~Generation() { detach_backend_samplers(); }

void Generation::begin(std::vector<llama_seq_id> sequences) {
    begin_time_ = Clock::now();
    if (plan_.realigns) {
        try {
            realign_ = realign_sampler_init(context_.get(), plan_.realign, request_.trace,
                                            is_shift_invariant(request_.sampling));
        } catch (const std::invalid_argument & error) {
            throw EngineError(error_code::kInvalidOption, error.what());
        }
    }
    chain_ = build_sampler_chain(realign_, request_.constraints.logit_bias, std::move(grammar_), request_.sampling,
                                 context_.model().n_vocab());
    greedy_ = is_plain_greedy(request_.sampling, request_.constraints);
    ceiling_ = realign_ != nullptr && hooks_.ceiling();
    on_backend_ = wants_backend();
    // A capture reads the realigned row, so only then does the chain keep it.
    if (on_backend_ && !request_.capture_logits) llama_sampler_chain_add(chain_.get(), token_only_sampler_init());
    stats_.on_backend = on_backend_;
    layout_.seq_ids = std::move(sequences);
    layout_.rows.assign(layout_.seq_ids.size(), 0);
    // Before the first decode: the last prompt decode samples the first token.
    if (on_backend_) attach_backend_samplers();
    feed_ = std::make_unique<PromptFeed>(context_, prompts_, layout_.seq_ids);
    stats_.reused_tokens = feed_->reused_tokens();
}

std::string Generation::finish_text() {
    std::string rest = utf8_.finish();
    // A character cut off by maxTokens or a full context is dropped rather than shown as U+FFFD.
    if (finish_reason_ != FinishReason::Stop) rest.clear();
    // What could have begun a stop string, had the answer gone on, is part of it after all.
    std::string text = stop_.push(rest);
    return text + stop_.finish();
}

bool Generation::wants_backend() const {
    if (request_.realign_on == RealignOn::Cpu) return false;
    // Where the logits are on another device, the graph path brings back a token instead of every row:
    // a GPU's rows would cross PCIe, an RPC server's the network (n_vocab floats per sequence per step).
    if (request_.realign_on == RealignOn::Auto && context_.model().logits_on() == LogitsOn::Cpu) return false;
    // The graph combines rows of one micro-batch, so every sequence's row must be in it.
    if (stats_.sequences > context_.options().batch_size) return false;
    if (realign_ != nullptr && !realign_sampler_backend_capable(realign_)) return false;
    // A capture reads the realigned row as the sampled logits, which filters would cut down, and
    // without a realignment the graph has no row of its own to give.
    if (request_.capture_logits && (!greedy_ || realign_ == nullptr)) return false;
    if (ceiling_) return false;
    return backend_samplable(request_.sampling, request_.constraints);
}

void Generation::attach_backend_samplers() {
    const std::vector<llama_seq_id> & seq_ids = layout_.seq_ids;
    // llama_get_logits_ith returns a backend sampler's row: a capture reads the raw rows beside it.
    if (request_.capture_logits) {
        llama_keep_raw_logits(context_.get(), true);
        keeps_raw_logits_ = true;
    }
    if (realign_ != nullptr) realign_sampler_set_sequences(realign_, seq_ids.data(), seq_ids.size());
    const size_t primary = seq_ids.size() > 1 ? 1 : 0;
    for (size_t i = 0; i < seq_ids.size(); ++i) {
        llama_sampler * sampler = chain_.get();
        if (i != primary) {
            llama_sampler_chain_params params = llama_sampler_chain_default_params();
            params.no_perf = true;
            SamplerHandle companion(llama_sampler_chain_init(params));
            llama_sampler_chain_add(companion.get(), token_only_sampler_init());
            sampler = companion.get();
            companions_.push_back(std::move(companion));
        }
        attached_.push_back(seq_ids[i]);
        if (!llama_set_sampler(context_.get(), seq_ids[i], sampler)) {
            detach_backend_samplers();
            throw EngineError(error_code::kDecode, "llama.cpp cannot run the sampler of sequence " +
                                                       std::to_string(seq_ids[i]) + " on the backend");
        }
    }
}

void Generation::detach_backend_samplers() {
    // llama.cpp holds the samplers by pointer: they are detached before they are freed.
    for (const llama_seq_id seq : attached_) llama_set_sampler(context_.get(), seq, nullptr);
    attached_.clear();
    companions_.clear();
    if (keeps_raw_logits_) llama_keep_raw_logits(context_.get(), false);
    keeps_raw_logits_ = false;
}

void Generation::finish(FinishReason reason) {
    phase_ = Phase::Finished;
    finish_reason_ = reason;
    detach_backend_samplers();
}

int32_t Generation::contribute(int32_t room) {
    awaits_rows_ = false;
    step_prompt_tokens_ = 0;
    if (phase_ == Phase::Finished) return 0;
    if (phase_ == Phase::Prompt) {
        bool last = false;
        const int32_t added = feed_->feed(room, layout_.rows, last);
        step_prompt_tokens_ = added;
        awaits_rows_ = last;
        return added;
    }
    const auto n = static_cast<int32_t>(layout_.seq_ids.size());
    if (room < n) return 0;
    KvSequences & kv = context_.kv();
    size_t longest = 0;
    for (const llama_seq_id seq : layout_.seq_ids) longest = std::max(longest, kv.tokens(seq).size());
    if (longest >= static_cast<size_t>(context_.options().context_size)) {
        finish(FinishReason::ContextFull);
        return 0;
    }
    const llama_token token =
        hooks_.token_to_decode(pending_token_, stats_.generated_tokens, context_.model().n_vocab());
    BatchHandle & batch = context_.batch();
    for (size_t i = 0; i < layout_.seq_ids.size(); ++i) {
        const llama_seq_id seq = layout_.seq_ids[i];
        const auto position = static_cast<llama_pos>(kv.tokens(seq).size());
        kv.append(seq, token);
        layout_.rows[i] = batch.add(token, position, seq, true);
    }
    awaits_rows_ = true;
    return n;
}

void Generation::step_failed() {
    awaits_rows_ = false;
    step_prompt_tokens_ = 0;
}

std::optional<GeneratedToken> Generation::after_decode() {
    stats_.evaluated_tokens += step_prompt_tokens_;
    step_prompt_tokens_ = 0;
    if (!awaits_rows_) return std::nullopt;
    awaits_rows_ = false;
    if (phase_ == Phase::Prompt) {
        stats_.prompt_ms = elapsed_ms(begin_time_);
        first_token_time_ = Clock::now();  // generation time runs from the end of prompt evaluation
        phase_ = Phase::Generating;
        if (request_.max_tokens <= 0) {
            finish(FinishReason::MaxTokens);
            return std::nullopt;
        }
    }
    hooks_.before_sample(stats_.generated_tokens);
    return sample_token();
}

std::optional<GeneratedToken> Generation::sample_token() {
    const int32_t row = primary_row();
    const Clock::time_point sample_start = Clock::now();
    if (realign_ != nullptr) realign_sampler_set_rows(realign_, layout_.rows.data(), layout_.rows.size());
    const llama_token token = sample(row);
    stats_.sampler_total_us += std::chrono::duration<double, std::micro>(Clock::now() - sample_start).count();
    stats_.generation_ms = elapsed_ms(first_token_time_);

    const LoadedModel & model = context_.model();
    if (llama_vocab_is_eog(model.vocab(), token)) {
        finish(FinishReason::Stop);
        return std::nullopt;
    }
    GeneratedToken generated;
    generated.token = token;
    generated.text = stop_.push(utf8_.push(token_bytes(model, token)));
    if (realign_ != nullptr) {
        const TokenTrace & trace = realign_sampler_last_trace(realign_);
        if (trace.realigned_token >= 0) {
            generated.trace = trace;
            generated.trace_texts = {token_bytes(model, trace.base_token), token_bytes(model, trace.pref_token),
                                     token_bytes(model, trace.realigned_token)};
        }
    }
    if (request_.capture_logits) capture(generated, row);
    if (realign_ != nullptr) stats_.guidance_scale_sum += realign_sampler_last_scale(realign_);
    pending_token_ = token;
    ++stats_.generated_tokens;
    // Finished after this token: the token is still delivered, and never decoded.
    if (!stop_.matched().empty()) {
        finish(FinishReason::Stop);
    } else if (stats_.generated_tokens >= request_.max_tokens) {
        finish(FinishReason::MaxTokens);
    }
    return generated;
}

llama_token Generation::sample(int32_t primary_row) {
    llama_context * ctx = context_.get();
    if (on_backend_) {
        const llama_token token = llama_get_sampled_token_ith(ctx, primary_row);
        if (token == LLAMA_TOKEN_NULL) throw EngineError(error_code::kDecode, "the backend sampler produced no token");
        llama_sampler_accept(chain_.get(), token);  // as llama_sampler_sample does: the chain's state follows the token
        return token;
    }
    const auto n_vocab = static_cast<size_t>(context_.model().n_vocab());
    if (ceiling_) return greedy_token(llama_get_logits_ith(ctx, primary_row), n_vocab);
    if (!greedy_) return llama_sampler_sample(chain_.get(), ctx, primary_row);
    if (realign_ != nullptr) return realign_sampler_sample_greedy(realign_);
    const float * logits = llama_get_logits_ith(ctx, primary_row);
    if (logits == nullptr) throw EngineError(error_code::kDecode, "no logits for the sampled row");
    return greedy_token(logits, n_vocab);
}

std::vector<float> Generation::backend_log_probs(int32_t primary_row) const {
    const auto n_vocab = static_cast<size_t>(context_.model().n_vocab());
    const float * logits = llama_get_sampled_logits_ith(context_.get(), primary_row);
    if (logits == nullptr || llama_get_sampled_logits_count_ith(context_.get(), primary_row) != n_vocab) {
        throw EngineError(error_code::kDecode, "the backend sampler returned no realigned row");
    }
    std::vector<float> log_probs(n_vocab);
    log_softmax(logits, n_vocab, log_probs.data());
    return log_probs;
}

void Generation::capture(GeneratedToken & generated, int32_t primary_row) const {
    const auto n_vocab = static_cast<size_t>(context_.model().n_vocab());
    for (const int32_t row : layout_.rows) {
        const float * logits = llama_get_raw_logits_ith(context_.get(), row);
        if (logits == nullptr) throw EngineError(error_code::kDecode, "no logits for a captured row");
        generated.captured_rows.emplace_back(logits, logits + n_vocab);
    }
    if (on_backend_) {
        generated.captured_log_probs = backend_log_probs(primary_row);
    } else if (realign_ != nullptr) {
        const float * log_probs = realign_sampler_last_log_probs(realign_);
        generated.captured_log_probs.assign(log_probs, log_probs + n_vocab);
    } else {
        // One sequence, nothing realigned: its own row is the distribution sampled from.
        generated.captured_log_probs.resize(n_vocab);
        log_softmax(generated.captured_rows[0].data(), n_vocab, generated.captured_log_probs.data());
    }
    if (realign_ != nullptr) generated.captured_scale = realign_sampler_last_scale(realign_);
    generated.captured_guard_tokens = plan_.realign.guard_tokens;
}

double Generation::mean_guidance_scale() const {
    if (realign_ == nullptr || stats_.generated_tokens == 0) return guidance_scale_;
    return stats_.guidance_scale_sum / stats_.generated_tokens;
}

}  // namespace amulet
