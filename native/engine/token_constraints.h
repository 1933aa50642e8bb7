// What a request allows the sampler to pick, applied right after the
// realignment: a bias on given tokens (llama.cpp's logit-bias sampler, which
// also runs in the compute graph) and a grammar (llama.cpp's grammar sampler,
// on the host), given as GBNF or derived from a JSON Schema by llama.cpp's
// `common` converter.
#pragma once

#include <string>
#include <vector>

#include "engine/llama_handles.h"

namespace amulet {

struct TokenConstraints {
    std::vector<llama_logit_bias> logit_bias;  // ids within the vocabulary (lib/ checked them)
    std::string grammar;                       // GBNF whose rule `root` the answer must follow; empty: none
    std::string json_schema;                   // a JSON Schema, as JSON text; empty: none (never with grammar)

    bool has_grammar() const { return !grammar.empty() || !json_schema.empty(); }
    bool empty() const { return logit_bias.empty() && !has_grammar(); }
};

/**
 * llama.cpp's grammar sampler for the constraints' grammar or schema; null
 * when they have neither. Throws EngineError(ERR_INVALID_OPTION) with
 * llama.cpp's reason for GBNF it refuses or a schema it cannot convert.
 */
SamplerHandle grammar_sampler(const llama_vocab * vocab, const TokenConstraints & constraints);

}  // namespace amulet
