#include "addon/generation_request_parser.h"

#include <string>
#include <utility>

#include "addon/addon_errors.h"
#include "engine/engine_error.h"

namespace amulet {

namespace {

// Every read checks the JavaScript type first, as better-sqlite3 does at each native entry: a caller that
// bypasses lib/ gets an ERR_INVALID_OPTION naming the field, never a crash or a generic N-API error.
[[noreturn]] void refuse(const Napi::Env & env, const std::string & message) {
    throw make_error(env, error_code::kInvalidOption, message);
}

Napi::Object object_value(const Napi::Value & value, const char * name) {
    if (!value.IsObject() || value.IsArray()) refuse(value.Env(), std::string(name) + " must be an object");
    return value.As<Napi::Object>();
}
Napi::Array array_value(const Napi::Value & value, const char * name) {
    if (!value.IsArray()) refuse(value.Env(), std::string(name) + " must be an array");
    return value.As<Napi::Array>();
}
Napi::Number number_value(const Napi::Value & value, const char * name) {
    if (!value.IsNumber()) refuse(value.Env(), std::string(name) + " must be a number");
    return value.As<Napi::Number>();
}
std::string text_value(const Napi::Value & value, const char * name) {
    if (!value.IsString()) refuse(value.Env(), std::string(name) + " must be a string");
    return value.As<Napi::String>().Utf8Value();
}

double number(const Napi::Object & object, const char * key) { return number_value(object.Get(key), key).DoubleValue(); }
int32_t integer(const Napi::Object & object, const char * key) { return number_value(object.Get(key), key).Int32Value(); }
std::string text(const Napi::Object & object, const char * key) { return text_value(object.Get(key), key); }
bool boolean(const Napi::Object & object, const char * key) {
    const Napi::Value value = object.Get(key);
    if (!value.IsBoolean()) refuse(object.Env(), std::string(key) + " must be a boolean");
    return value.As<Napi::Boolean>().Value();
}
Napi::Object object(const Napi::Object & object, const char * key) { return object_value(object.Get(key), key); }
Napi::Array array(const Napi::Object & object, const char * key) { return array_value(object.Get(key), key); }

/** One of an enum's names, as the rules table spells them; anything else is refused, like an unknown method. */
template <typename Enum, size_t N>
Enum choice(const Napi::Object & object, const char * key, const std::pair<const char *, Enum> (&names)[N]) {
    const std::string value = text(object, key);
    std::string expected;
    for (const auto & [name, member] : names) {
        if (value == name) return member;
        expected += expected.empty() ? name : std::string(", ") + name;
    }
    refuse(object.Env(), std::string(key) + " must be one of " + expected + " (got '" + value + "')");
}

constexpr std::pair<const char *, RealignOn> kRealignOnNames[] = {
    {"auto", RealignOn::Auto}, {"cpu", RealignOn::Cpu}, {"backend", RealignOn::Backend}};
constexpr std::pair<const char *, ContextOverflow> kOverflowNames[] = {
    {"error", ContextOverflow::Error}, {"dropOldestTurns", ContextOverflow::DropOldestTurns}};

}  // namespace

std::vector<ChatMessage> parse_turns(const Napi::Value & value) {
    const Napi::Array turns = array_value(value, "turns");
    std::vector<ChatMessage> parsed;
    for (uint32_t i = 0; i < turns.Length(); ++i) {
        const Napi::Object turn = object_value(turns.Get(i), "a turn");
        parsed.push_back({text(turn, "role"), text(turn, "content")});
    }
    return parsed;
}

RealignParams parse_realign_params(const Napi::Value & value) {
    const Napi::Object options = object_value(value, "realign");
    RealignParams params;
    try {
        params.method = parse_realign_method(text(options, "method"));
    } catch (const std::invalid_argument & error) {
        refuse(options.Env(), error.what());
    }
    params.alpha = number(options, "alpha");
    params.lambda = number(options, "lambda");
    params.eta = number(options, "eta");
    params.iterations = integer(options, "iterations");
    params.ratio = number(options, "ratio");
    params.plausibility = number(options, "plausibility");
    params.kl_budget = number(options, "klBudget");
    params.echo_guard = options.Get("echoGuard").As<Napi::Boolean>().Value();
    return params;
}

ContextOptions parse_context_options(const Napi::Value & value) {
    const Napi::Object options = object_value(value, "context options");
    ContextOptions context;
    context.context_size = integer(options, "contextSize");
    context.threads = integer(options, "threads");
    context.batch_size = integer(options, "batchSize");
    if (!options.Get("sequences").IsUndefined()) context.sequences = integer(options, "sequences");
    if (!options.Get("cacheSize").IsUndefined()) context.cache_size = integer(options, "cacheSize");
    return context;
}

GenerationRequest parse_generation_request(const Napi::Value & value) {
    const Napi::Object request = object_value(value, "the generation request");
    GenerationRequest parsed;
    parsed.system_prompt = text(request, "systemPrompt");
    parsed.turns = parse_turns(request.Get("turns"));
    parsed.realign = parse_realign_params(request.Get("realign"));
    const Napi::Array preferences = array(request, "preferences");
    for (uint32_t i = 0; i < preferences.Length(); ++i) {
        const Napi::Object preference = object_value(preferences.Get(i), "a preference");
        parsed.preference_texts.push_back(text(preference, "text"));
        parsed.realign.weights.push_back(number(preference, "weight"));
    }

    const Napi::Object sampling = object(request, "sampling");
    parsed.sampling.temperature = static_cast<float>(number(sampling, "temperature"));
    parsed.sampling.top_k = integer(sampling, "topK");
    parsed.sampling.top_p = static_cast<float>(number(sampling, "topP"));
    parsed.sampling.min_p = static_cast<float>(number(sampling, "minP"));
    parsed.sampling.repeat_penalty = static_cast<float>(number(sampling, "repeatPenalty"));
    parsed.sampling.repeat_last_n = integer(sampling, "repeatLastN");
    parsed.sampling.frequency_penalty = static_cast<float>(number(sampling, "frequencyPenalty"));
    parsed.sampling.presence_penalty = static_cast<float>(number(sampling, "presencePenalty"));
    parsed.sampling.seed = number_value(sampling.Get("seed"), "seed").Uint32Value();

    const Napi::Array stop = array(request, "stop");
    for (uint32_t i = 0; i < stop.Length(); ++i) parsed.stop.push_back(text_value(stop.Get(i), "a stop string"));
    const Napi::Array logit_bias = array(request, "logitBias");
    for (uint32_t i = 0; i < logit_bias.Length(); ++i) {
        const Napi::Object entry = object_value(logit_bias.Get(i), "a logitBias entry");
        parsed.constraints.logit_bias.push_back({integer(entry, "token"), static_cast<float>(number(entry, "bias"))});
    }
    parsed.constraints.grammar = text(request, "grammar");
    parsed.constraints.json_schema = text(request, "jsonSchema");

    parsed.max_tokens = integer(request, "maxTokens");
    parsed.trace = boolean(request, "trace");
    parsed.capture_logits = boolean(request, "captureLogits");
    parsed.realign_on = choice(request, "realignOn", kRealignOnNames);
    parsed.overflow = choice(request, "contextOverflow", kOverflowNames);
    return parsed;
}

BeamSearchRequest parse_beam_search_request(const Napi::Value & value) {
    const Napi::Object request = object_value(value, "the beam search request");
    BeamSearchRequest parsed;
    parsed.system_prompt = text(request, "systemPrompt");
    const Napi::Array preferences = array(request, "preferences");
    for (uint32_t i = 0; i < preferences.Length(); ++i) {
        parsed.preference_texts.push_back(text_value(preferences.Get(i), "a preference"));
    }
    parsed.turns = parse_turns(request.Get("turns"));
    parsed.beams = integer(request, "beams");
    parsed.max_tokens = integer(request, "maxTokens");
    parsed.length_penalty = number(request, "lengthPenalty");
    parsed.threads = integer(request, "threads");
    parsed.batch_size = integer(request, "batchSize");
    return parsed;
}

ScoreRequest parse_score_request(const Napi::Value & value) {
    const Napi::Object request = object_value(value, "the score request");
    ScoreRequest parsed;
    parsed.system_prompt = text(request, "systemPrompt");
    parsed.turns = parse_turns(request.Get("turns"));
    const Napi::Value continuation = request.Get("continuation");
    if (continuation.IsString()) {
        parsed.continuation_text = continuation.As<Napi::String>().Utf8Value();
    } else {
        const Napi::Array tokens = array_value(continuation, "continuation");
        for (uint32_t i = 0; i < tokens.Length(); ++i) {
            parsed.continuation.push_back(number_value(tokens.Get(i), "a continuation token").Int32Value());
        }
    }
    return parsed;
}

}  // namespace amulet
