#include "engine/sampling_chain.h"

namespace amulet {

namespace {

bool penalises(const SamplingParams & params) {
    return params.repeat_penalty != 1.0f || params.frequency_penalty != 0.0f || params.presence_penalty != 0.0f;
}

}  // namespace

bool is_plain_greedy(const SamplingParams & params, const TokenConstraints & constraints) {
    return params.temperature <= 0.0f && !penalises(params) && constraints.empty();
}

bool backend_samplable(const SamplingParams & params, const TokenConstraints & constraints) {
    return !penalises(params) && !constraints.has_grammar();
}

SamplerHandle build_sampler_chain(llama_sampler * first, const std::vector<llama_logit_bias> & logit_bias,
                                  SamplerHandle grammar, const SamplingParams & params, int32_t n_vocab) {
    llama_sampler_chain_params chain_params = llama_sampler_chain_default_params();
    chain_params.no_perf = true;
    SamplerHandle chain(llama_sampler_chain_init(chain_params));
    if (first != nullptr) llama_sampler_chain_add(chain.get(), first);
    if (!logit_bias.empty()) {
        llama_sampler_chain_add(chain.get(), llama_sampler_init_logit_bias(
                                                 n_vocab, static_cast<int32_t>(logit_bias.size()), logit_bias.data()));
    }
    if (grammar) llama_sampler_chain_add(chain.get(), grammar.release());
    if (penalises(params)) {
        llama_sampler_chain_add(chain.get(), llama_sampler_init_penalties(n_vocab, params.repeat_last_n, params.repeat_penalty,
                                                                          params.frequency_penalty,
                                                                          params.presence_penalty));
    }
    if (params.temperature <= 0.0f) {
        llama_sampler_chain_add(chain.get(), llama_sampler_init_greedy());
        return chain;
    }
    if (params.top_k > 0) llama_sampler_chain_add(chain.get(), llama_sampler_init_top_k(params.top_k));
    if (params.top_p < 1.0f) llama_sampler_chain_add(chain.get(), llama_sampler_init_top_p(params.top_p, 1));
    if (params.min_p > 0.0f) llama_sampler_chain_add(chain.get(), llama_sampler_init_min_p(params.min_p, 1));
    llama_sampler_chain_add(chain.get(), llama_sampler_init_temp(params.temperature));
    llama_sampler_chain_add(chain.get(), llama_sampler_init_dist(params.seed));
    return chain;
}

}  // namespace amulet
