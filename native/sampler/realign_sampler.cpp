#include "sampler/realign_sampler.h"

#include <cmath>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include "ggml-backend.h"
#include "ggml.h"
#include "sampler/realign_math.h"

namespace amulet {

namespace {

// A vendor bump that changes the sampler interface must fail here, not misbehave.
static_assert(sizeof(llama_sampler_i) == 12 * sizeof(void *), "llama_sampler_i changed: review realign_sampler");

struct RealignSampler {
    RealignSampler(llama_context * context, const RealignParams & config, bool tracing, bool shift_invariant)
        : ctx(context),
          params(config),
          trace_enabled(tracing),
          shift_invariant_chain(shift_invariant),
          // The trace reports probabilities and the KL of the rows, and the
          // literal loop starts from l_p and l_b: only these need the rows'
          // log-sum-exps when the chain ignores a constant shift; the echo
          // guard compares l_j with l_b, where the constants do not cancel.
          needs_lse(!shift_invariant || tracing || config.method == RealignMethod::AmuletIterative ||
                    config.echo_guard),
          n_vocab(static_cast<size_t>(llama_vocab_n_tokens(llama_model_get_vocab(llama_get_model(context))))) {
        params.validate();
        // lib/ refuses a realigning method without preferences; reaching here is a bug, not bad input.
        if (params.weights.empty()) throw std::logic_error("realignment without a preference row");
        const std::vector<double> preference_coef = preference_coefficients(params);
        double base_coef = 1.0;
        coef.push_back(0.0f);
        for (double c : preference_coef) {
            base_coef -= c;
            coef.push_back(static_cast<float>(c));
        }
        coef[0] = static_cast<float>(base_coef);
        gate_row = plausibility_gate_row(params);
        scale = guidance_scale(params);
        token_scale = static_cast<float>(scale);
        if (params.echo_guard) {
            for (size_t j = 0; j < params.guard_tokens.size(); ++j) {
                const std::vector<int32_t> & ids = params.guard_tokens[j];
                for (int32_t id : ids) {
                    if (id < 0 || static_cast<size_t>(id) >= n_vocab) {
                        throw std::invalid_argument("an echo guard token id is outside the vocabulary");
                    }
                }
                guard_sets.push_back({ids.data(), ids.size()});
                guard_weights.push_back(static_cast<float>(params.weights[j]));
                guard_any = guard_any || !ids.empty();
            }
            guard_inputs.reserve(guard_sets.size());
        }
        if (budgeted()) {
            const GuidanceTerms terms = guidance_terms(params);
            anchor.assign(terms.anchor.begin(), terms.anchor.end());
            direction.assign(terms.direction.begin(), terms.direction.end());
            anchor_row.resize(n_vocab);
            direction_row.resize(n_vocab);
        }
        const size_t n_rows = coef.size();
        rows.assign(n_rows, 0);
        seqs.assign(n_rows, -1);
        row_logits.assign(n_rows, nullptr);
        row_lse.assign(n_rows, 0.0f);
        realigned.resize(n_vocab);
        if (params.method == RealignMethod::AmuletIterative) {
            for (auto * buffer : {&iter_policy, &iter_utility, &iter_iterate, &iter_pref, &iter_out, &iter_mix}) {
                buffer->resize(n_vocab);
            }
        }
    }

    llama_context * const ctx;
    RealignParams params;
    const bool trace_enabled;
    const bool shift_invariant_chain;
    const bool needs_lse;
    const size_t n_vocab;
    std::vector<float> coef;  // [c_base, c_1 .. c_n], c_base = 1 - sum c_j
    int32_t gate_row = -1;    // the row the plausibility constraint reads; -1: off
    double scale = 0.0;       // the guidance scale s; under a KL budget, the most a token gets
    float token_scale = 0.0f;  // the scale of the last token
    // Under a KL budget: coef = anchor + s_t * direction, s_t chosen per
    // token from the rows A and D these coefficients form.
    std::vector<float> anchor, direction;
    std::vector<float> anchor_row, direction_row;
    // The echo guard: each preference's token set (views of params.guard_tokens) and weight.
    std::vector<GuardedTokens> guard_sets;
    std::vector<float> guard_weights;
    bool guard_any = false;
    // The graph's inputs of the guard: each set's token ids, as a tensor of the
    // graph being built, with the index of its preference (made by
    // backend_apply, filled by backend_set_input, dropped by backend_reset).
    std::vector<std::pair<ggml_tensor *, size_t>> guard_inputs;

    // The KV sequence of each row: how the backend path finds the rows in the graph.
    std::vector<llama_seq_id> seqs;

    // Per-decode inputs and reused scratch: the per-token path never allocates.
    std::vector<int32_t> rows;
    std::vector<const float *> row_logits;
    std::vector<float> row_lse;    // computed only when needs_lse
    std::vector<float> realigned;  // sum_k c_k (z_k - lse_k) from realign() with needs_lse, else sum_k c_k z_k
    // The greedy pick reads the rows but writes no realigned row (see
    // sample_greedy); realigned_row() writes it if a capture asks for it.
    bool realigned_pending = false;
    std::vector<float> normalised;
    bool normalised_valid = false;
    std::vector<double> iter_policy, iter_utility, iter_iterate, iter_pref, iter_out, iter_mix;
    TokenTrace trace;

    void read_rows(bool with_lse) {
        for (size_t k = 0; k < rows.size(); ++k) {
            row_logits[k] = llama_get_logits_ith(ctx, rows[k]);
            if (row_logits[k] == nullptr) throw std::runtime_error("realign sampler: missing logits for an output row");
            if (!with_lse) continue;
            row_lse[k] = log_sum_exp(row_logits[k], n_vocab);
            if (!std::isfinite(row_lse[k])) throw no_possible_token();
        }
    }

    bool budgeted() const {
        return params.kl_budget > 0 && scale > 0 && params.method != RealignMethod::AmuletIterative;
    }

    // At scale 0 (pref) the guard has nothing to clip.
    bool guarded() const { return params.echo_guard && guard_any && scale > 0; }

    void guard(float guard_scale, float * row) const {
        apply_echo_guard(row_logits.data(), row_lse.data(), guard_weights.data(), guard_sets.data(), guard_sets.size(),
                         guard_scale, row);
    }

    // Under a KL budget, this token's coefficients from its rows (see kl_budgeted_scale).
    void budget_coefficients() {
        if (!budgeted()) return;
        combine_log_probs(row_logits.data(), nullptr, anchor.data(), rows.size(), n_vocab, anchor_row.data());
        combine_log_probs(row_logits.data(), nullptr, direction.data(), rows.size(), n_vocab, direction_row.data());
        // The guarded realignment is A + s D' with D' the direction clipped at
        // the guarded tokens (min(0, s x) = s min(0, x) for s >= 0): the
        // budget bounds the distribution that is sampled.
        if (guarded()) guard(1.0f, direction_row.data());
        token_scale = static_cast<float>(
            kl_budgeted_scale(anchor_row.data(), direction_row.data(), n_vocab, scale, params.kl_budget));
        for (size_t k = 0; k < coef.size(); ++k) coef[k] = anchor[k] + token_scale * direction[k];
    }

    static std::runtime_error no_possible_token() {
        return std::runtime_error("realign sampler: no token has a finite logit in every row");
    }

    // l = l_b + sum_j w_j (M_j - l_b), with M_j the literal loop's result for preference j.
    void combine_iterative() {
        const float * base = row_logits[0];
        const IterativeScratch scratch{iter_policy.data(), iter_utility.data(), iter_iterate.data(), iter_pref.data()};
        double base_weight = 1.0;
        for (size_t i = 0; i < n_vocab; ++i) iter_mix[i] = 0.0;
        for (size_t j = 1; j < rows.size(); ++j) {
            const double weight = params.weights[j - 1];
            base_weight -= weight;
            amulet_literal_loop(base, row_lse[0], row_logits[j], row_lse[j], params.alpha, params.lambda, params.eta,
                                params.iterations, n_vocab, scratch, iter_out.data());
            for (size_t i = 0; i < n_vocab; ++i) iter_mix[i] += weight * iter_out[i];
        }
        for (size_t i = 0; i < n_vocab; ++i) {
            const double value = iter_mix[i] + base_weight * (static_cast<double>(base[i]) - row_lse[0]);
            realigned[i] = std::isfinite(value) ? static_cast<float>(value) : -INFINITY;
        }
    }

    void record_trace() {
        const float realigned_lse = log_sum_exp(realigned.data(), n_vocab);
        const auto top_of = [&](const float * row, float lse, int32_t & token, float & prob) {
            token = arg_max(row, n_vocab);
            prob = token < 0 ? 0.0f : std::exp(row[token] - lse);
        };
        top_of(row_logits[0], row_lse[0], trace.base_token, trace.base_prob);
        top_of(row_logits[1], row_lse[1], trace.pref_token, trace.pref_prob);
        top_of(realigned.data(), realigned_lse, trace.realigned_token, trace.realigned_prob);
        trace.kl_realigned_base = static_cast<float>(
            kl_divergence(realigned.data(), realigned_lse, row_logits[0], row_lse[0], n_vocab));
    }

    PlausibilityGate gate() const {
        if (gate_row < 0) return {};
        return plausibility_gate(row_logits[static_cast<size_t>(gate_row)], n_vocab, params.plausibility);
    }

    /** Fills `realigned` from the rows of the current decode. */
    void realign() {
        realigned_pending = false;
        read_rows(needs_lse);
        budget_coefficients();
        if (params.method == RealignMethod::AmuletIterative) {
            combine_iterative();
            apply_plausibility(gate(), n_vocab, realigned.data());
        } else {
            const float top = combine_log_probs(row_logits.data(), needs_lse ? row_lse.data() : nullptr, coef.data(),
                                                rows.size(), n_vocab, realigned.data(), gate());
            if (!std::isfinite(top)) throw no_possible_token();
            if (guarded()) guard(token_scale, realigned.data());
        }
        if (trace_enabled) record_trace();
    }

    llama_token sample_greedy() {
        normalised_valid = false;
        if (trace_enabled || params.method == RealignMethod::AmuletIterative || guarded()) {
            realign();
            return greedy_token(realigned.data(), n_vocab);
        }
        // An arg max ignores the per-token constant whatever the chain, so
        // the pick needs no lse, and no realigned row in memory: one pass
        // that reads the rows and writes nothing.
        read_rows(false);
        budget_coefficients();
        realigned_pending = true;
        const int32_t token = combine_arg_max(row_logits.data(), coef.data(), rows.size(), n_vocab, gate());
        if (token < 0) throw no_possible_token();
        return token;
    }

    /** `realigned` for the current decode, written now if the greedy pick left it out. */
    const float * realigned_row() {
        if (realigned_pending) {
            combine_log_probs(row_logits.data(), nullptr, coef.data(), rows.size(), n_vocab, realigned.data(), gate());
            realigned_pending = false;
        }
        return realigned.data();
    }

    // The literal loop and the KL budget's root finding have no ggml form, and
    // the trace reads the rows on the host.
    bool backend_capable() const {
        return params.method != RealignMethod::AmuletIterative && !budgeted() && !trace_enabled;
    }

    // The output row of `seq` in the graph being built, or the sampler's own
    // row when the graph has none: the probe graph that sizes a chain, a
    // reserve graph, or a graph in which this sequence has no output. Those
    // graphs never deliver the result, but they must have the same nodes.
    static ggml_tensor * row_of(ggml_context * ctx, const llama_sampler_data & data, llama_seq_id seq) {
        if (data.logits_all == nullptr || seq < 0 || seq >= data.n_seq_rows || data.seq_rows[seq] < 0) {
            return data.logits;
        }
        const size_t offset = static_cast<size_t>(data.seq_rows[seq]) * data.logits_all->nb[1];
        return ggml_view_1d(ctx, data.logits_all, data.logits_all->ne[0], offset);
    }

    // sum_k c_k z_k: the closed form on raw logits, as the host path writes
    // it before a shift-invariant chain (the only chains the graph runs). It
    // differs from sum_k c_k (z_k - lse_k) by a constant per token, which
    // neither the argmax nor a softmax sees, so the graph skips the k reductions.
    // This sampler is first in every chain, so the rows are the model's own
    // outputs, which are finite: the host path's rule that a -inf logit stays
    // -inf (a negative c_k would turn it into +inf) has nothing to act on.
    //
    // The plausibility constraint adds log(keep) with keep = 1 - step(log tau -
    // (z_g - max z_g)): 0 for the tokens it keeps, -inf for the others, the
    // same comparison as the host path's. The gate row's max is read at its
    // argmax (ggml has no max reduction over a row).
    //
    // The echo guard subtracts s * max(0, w_j (l_j - l_b)) at the tokens of
    // each preference's set: gathered at the set's ids (a graph input), with
    // the rows' log-sum-exps for the sign, and scattered back into a zero row.
    void backend_apply(ggml_context * ctx, llama_sampler_data * data) {
        ggml_tensor * combined = nullptr;
        for (size_t k = 0; k < seqs.size(); ++k) {
            ggml_tensor * term = ggml_scale(ctx, row_of(ctx, *data, seqs[k]), coef[k]);
            combined = combined == nullptr ? term : ggml_add(ctx, combined, term);
        }
        if (gate_row >= 0) {
            ggml_tensor * gate = row_of(ctx, *data, seqs[static_cast<size_t>(gate_row)]);
            const int64_t n = gate->ne[0];
            ggml_tensor * top = ggml_argmax(ctx, ggml_reshape_2d(ctx, gate, n, 1));
            ggml_tensor * top_value = ggml_get_rows(ctx, ggml_reshape_2d(ctx, gate, 1, n), top);
            ggml_tensor * below_top = ggml_sub(ctx, gate, ggml_reshape_1d(ctx, top_value, 1));
            const float log_tau = static_cast<float>(std::log(params.plausibility));
            ggml_tensor * cut = ggml_step(ctx, ggml_scale_bias(ctx, below_top, -1.0f, log_tau));
            ggml_tensor * keep = ggml_scale_bias(ctx, cut, -1.0f, 1.0f);
            combined = ggml_add(ctx, combined, ggml_log(ctx, keep));
        }
        if (guarded()) combined = ggml_sub(ctx, combined, backend_guard(ctx, *data, combined));
        ggml_set_name(combined, "amulet_realigned");
        data->logits = combined;
    }

    // log(sum(exp(z))) of a row of finite logits, as a one-element tensor.
    static ggml_tensor * backend_log_sum_exp(ggml_context * ctx, ggml_tensor * z) {
        const int64_t n = z->ne[0];
        ggml_tensor * top = ggml_argmax(ctx, ggml_reshape_2d(ctx, z, n, 1));
        ggml_tensor * top_value = ggml_reshape_1d(ctx, ggml_get_rows(ctx, ggml_reshape_2d(ctx, z, 1, n), top), 1);
        ggml_tensor * mass = ggml_sum(ctx, ggml_exp(ctx, ggml_sub(ctx, z, top_value)));
        return ggml_add(ctx, ggml_log(ctx, mass), top_value);
    }

    // The row that the guard subtracts from the combination: s max(0, w_j (l_j - l_b)) at each set's tokens.
    ggml_tensor * backend_guard(ggml_context * ctx, const llama_sampler_data & data, ggml_tensor * like) {
        ggml_tensor * base = row_of(ctx, data, seqs[0]);
        const int64_t n = base->ne[0];
        ggml_tensor * base_lse = backend_log_sum_exp(ctx, base);
        ggml_tensor * total = nullptr;
        for (size_t j = 0; j < guard_sets.size(); ++j) {
            const auto count = static_cast<int64_t>(guard_sets[j].count);
            if (count == 0) continue;
            ggml_tensor * ids = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, count);
            ggml_set_input(ids);
            guard_inputs.emplace_back(ids, j);
            ggml_tensor * pref = row_of(ctx, data, seqs[j + 1]);
            ggml_tensor * offset = ggml_sub(ctx, backend_log_sum_exp(ctx, pref), base_lse);
            ggml_tensor * at_pref = ggml_get_rows(ctx, ggml_reshape_2d(ctx, pref, 1, n), ids);
            ggml_tensor * at_base = ggml_get_rows(ctx, ggml_reshape_2d(ctx, base, 1, n), ids);
            ggml_tensor * delta = ggml_sub(ctx, ggml_sub(ctx, at_pref, at_base), offset);
            ggml_tensor * push = ggml_scale(ctx, ggml_relu(ctx, ggml_scale(ctx, delta, guard_weights[j])),
                                            token_scale);
            ggml_tensor * row = ggml_reshape_2d(ctx, ggml_fill(ctx, like, 0.0f), 1, n);
            ggml_tensor * scattered = ggml_reshape_1d(ctx, ggml_set_rows(ctx, row, push, ids), n);
            total = total == nullptr ? scattered : ggml_add(ctx, total, scattered);
        }
        return total;
    }

    void backend_set_input() {
        for (const auto & [tensor, j] : guard_inputs) {
            ggml_backend_tensor_set(tensor, guard_sets[j].ids, 0, ggml_nbytes(tensor));
        }
    }

    void apply(llama_token_data_array * cur_p) {
        normalised_valid = false;
        realign();
        for (size_t k = 0; k < cur_p->size; ++k) {
            const llama_token id = cur_p->data[k].id;
            cur_p->data[k].logit = realigned[static_cast<size_t>(id)];
        }
        cur_p->sorted = false;
    }
};

RealignSampler & state_of(const llama_sampler * smpl) { return *static_cast<RealignSampler *>(smpl->ctx); }

const char * realign_name(const llama_sampler * /*smpl*/) { return "amulet-realign"; }

void realign_apply(llama_sampler * smpl, llama_token_data_array * cur_p) { state_of(smpl).apply(cur_p); }

llama_sampler * realign_clone(const llama_sampler * smpl);

void realign_free(llama_sampler * smpl) {
    std::unique_ptr<RealignSampler> owned(static_cast<RealignSampler *>(smpl->ctx));
}

bool realign_backend_init(llama_sampler * smpl, ggml_backend_buffer_type_t /*buft*/, uint32_t /*n_outputs_max_per_seq*/) {
    // Views, scale, add and the constraint's argmax, get_rows, step and log:
    // every ggml backend has them, so only the method decides.
    return state_of(smpl).backend_capable();
}

void realign_backend_apply(llama_sampler * smpl, ggml_context * ctx, ggml_cgraph * /*gf*/, llama_sampler_data * data) {
    state_of(smpl).backend_apply(ctx, data);
}

void realign_backend_set_input(llama_sampler * smpl) { state_of(smpl).backend_set_input(); }

// Before each graph is built: the inputs of the last one belong to its context.
void realign_backend_reset(llama_sampler * smpl) { state_of(smpl).guard_inputs.clear(); }

llama_sampler_i realign_sampler_iface = {
    /* .name              = */ realign_name,
    /* .accept            = */ nullptr,
    /* .apply             = */ realign_apply,
    /* .reset             = */ nullptr,
    /* .clone             = */ realign_clone,
    /* .free              = */ realign_free,
    /* .backend_init      = */ realign_backend_init,
    /* .backend_accept    = */ nullptr,
    /* .backend_apply     = */ realign_backend_apply,
    /* .backend_set_input = */ realign_backend_set_input,
    /* .backend_reset     = */ realign_backend_reset,
    /* .copy_state        = */ nullptr,
};

llama_sampler * realign_clone(const llama_sampler * smpl) {
    const RealignSampler & source = state_of(smpl);
    llama_sampler * copy =
        realign_sampler_init(source.ctx, source.params, source.trace_enabled, source.shift_invariant_chain);
    state_of(copy).rows = source.rows;
    state_of(copy).seqs = source.seqs;
    return copy;
}

// The token-only link (see token_only_sampler_init): stateless.
const char * token_only_name(const llama_sampler * /*smpl*/) { return "amulet-token-only"; }

void token_only_apply(llama_sampler * /*smpl*/, llama_token_data_array * /*cur_p*/) {}

llama_sampler * token_only_clone(const llama_sampler * /*smpl*/) { return token_only_sampler_init(); }

bool token_only_backend_init(llama_sampler * /*smpl*/, ggml_backend_buffer_type_t /*buft*/, uint32_t /*n_outputs*/) {
    return true;
}

void token_only_backend_apply(llama_sampler * /*smpl*/, ggml_context * /*ctx*/, ggml_cgraph * /*gf*/,
                              llama_sampler_data * data) {
    data->logits = nullptr;
    data->probs = nullptr;
    data->candidates = nullptr;
}

llama_sampler_i token_only_sampler_iface = {
    /* .name              = */ token_only_name,
    /* .accept            = */ nullptr,
    /* .apply             = */ token_only_apply,
    /* .reset             = */ nullptr,
    /* .clone             = */ token_only_clone,
    /* .free              = */ nullptr,
    /* .backend_init      = */ token_only_backend_init,
    /* .backend_accept    = */ nullptr,
    /* .backend_apply     = */ token_only_backend_apply,
    /* .backend_set_input = */ nullptr,
    /* .backend_reset     = */ nullptr,
    /* .copy_state        = */ nullptr,
};

}  // namespace

llama_sampler * realign_sampler_init(llama_context * ctx, const RealignParams & params, bool trace,
                                     bool shift_invariant_chain) {
    auto state = std::make_unique<RealignSampler>(ctx, params, trace, shift_invariant_chain);
    return llama_sampler_init(&realign_sampler_iface, state.release());
}

void realign_sampler_set_rows(llama_sampler * smpl, const int32_t * rows, size_t n_rows) {
    RealignSampler & state = state_of(smpl);
    if (n_rows != state.rows.size()) throw std::logic_error("realign sampler: wrong number of output rows");
    state.rows.assign(rows, rows + n_rows);
}

void realign_sampler_set_sequences(llama_sampler * smpl, const llama_seq_id * seqs, size_t n_seqs) {
    RealignSampler & state = state_of(smpl);
    if (n_seqs != state.seqs.size()) throw std::logic_error("realign sampler: wrong number of sequences");
    state.seqs.assign(seqs, seqs + n_seqs);
}

bool realign_sampler_backend_capable(const llama_sampler * smpl) { return state_of(smpl).backend_capable(); }

llama_sampler * token_only_sampler_init() { return llama_sampler_init(&token_only_sampler_iface, nullptr); }

llama_token greedy_token(const float * row, size_t n_vocab) {
    // llama.cpp's greedy sampler keeps candidate 0 unless a later one is
    // larger, so a row with no finite entry gives token 0, not -1.
    const int32_t token = arg_max(row, n_vocab);
    return token < 0 ? 0 : token;
}

llama_token realign_sampler_sample_greedy(llama_sampler * smpl) { return state_of(smpl).sample_greedy(); }

const TokenTrace & realign_sampler_last_trace(const llama_sampler * smpl) { return state_of(smpl).trace; }

float realign_sampler_last_scale(const llama_sampler * smpl) { return state_of(smpl).token_scale; }

const float * realign_sampler_last_log_probs(llama_sampler * smpl) {
    RealignSampler & state = state_of(smpl);
    if (!state.normalised_valid) {
        state.normalised.resize(state.n_vocab);
        log_softmax(state.realigned_row(), state.n_vocab, state.normalised.data());
        state.normalised_valid = true;
    }
    return state.normalised.data();
}

}  // namespace amulet
