#include "engine/token_constraints.h"

#include <algorithm>
#include <exception>

#include "engine/engine_error.h"
#include "engine/llama_log.h"
#include "json-schema-to-grammar.h"

namespace amulet {

namespace {

std::string schema_grammar(const std::string & schema) {
    try {
        return json_schema_to_grammar(common_json::parse(schema));
    } catch (const std::exception & error) {
        std::string why = error.what();
        std::replace(why.begin(), why.end(), '\n', ' ');
        throw EngineError(error_code::kInvalidOption, "jsonSchema cannot be turned into a grammar: " + why);
    }
}

}  // namespace

SamplerHandle grammar_sampler(const llama_vocab * vocab, const TokenConstraints & constraints) {
    if (!constraints.has_grammar()) return nullptr;
    const std::string gbnf = constraints.json_schema.empty() ? constraints.grammar : schema_grammar(constraints.json_schema);
    take_llama_log_errors();
    SamplerHandle sampler(llama_sampler_init_grammar(vocab, gbnf.c_str(), "root"));
    if (!sampler) {
        const std::string why = take_llama_log_errors();
        throw EngineError(error_code::kInvalidOption,
                          std::string(constraints.json_schema.empty() ? "grammar is not valid GBNF"
                                                                      : "the grammar of jsonSchema was refused") +
                              (why.empty() ? "" : ": " + why));
    }
    return sampler;
}

}  // namespace amulet
