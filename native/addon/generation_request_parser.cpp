#include "addon/generation_request_parser.h"

#include <stdexcept>
#include <string>

namespace amulet {

namespace {

double number(const Napi::Object & object, const char * key) { return object.Get(key).As<Napi::Number>().DoubleValue(); }
int32_t integer(const Napi::Object & object, const char * key) {
    return object.Get(key).As<Napi::Number>().Int32Value();
}
std::string text(const Napi::Object & object, const char * key) {
    return object.Get(key).As<Napi::String>().Utf8Value();
}

}  // namespace

std::vector<ChatMessage> parse_turns(const Napi::Array & turns) {
    std::vector<ChatMessage> parsed;
    for (uint32_t i = 0; i < turns.Length(); ++i) {
        const Napi::Object turn = turns.Get(i).As<Napi::Object>();
        parsed.push_back({text(turn, "role"), text(turn, "content")});
    }
    return parsed;
}

RealignParams parse_realign_params(const Napi::Object & options) {
    RealignParams params;
    params.method = parse_realign_method(text(options, "method"));
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

ContextOptions parse_context_options(const Napi::Object & options) {
    ContextOptions context;
    context.context_size = integer(options, "contextSize");
    context.threads = integer(options, "threads");
    context.batch_size = integer(options, "batchSize");
    const Napi::Value sequences = options.Get("sequences");
    if (sequences.IsNumber()) context.sequences = sequences.As<Napi::Number>().Int32Value();
    const Napi::Value cache_size = options.Get("cacheSize");
    if (cache_size.IsNumber()) context.cache_size = cache_size.As<Napi::Number>().Int32Value();
    return context;
}

GenerationRequest parse_generation_request(const Napi::Object & request) {
    GenerationRequest parsed;
    parsed.system_prompt = text(request, "systemPrompt");
    parsed.turns = parse_turns(request.Get("turns").As<Napi::Array>());
    parsed.realign = parse_realign_params(request.Get("realign").As<Napi::Object>());
    const Napi::Array preferences = request.Get("preferences").As<Napi::Array>();
    for (uint32_t i = 0; i < preferences.Length(); ++i) {
        const Napi::Object preference = preferences.Get(i).As<Napi::Object>();
        parsed.preference_texts.push_back(text(preference, "text"));
        parsed.realign.weights.push_back(number(preference, "weight"));
    }

    const Napi::Object sampling = request.Get("sampling").As<Napi::Object>();
    parsed.sampling.temperature = static_cast<float>(number(sampling, "temperature"));
    parsed.sampling.top_k = integer(sampling, "topK");
    parsed.sampling.top_p = static_cast<float>(number(sampling, "topP"));
    parsed.sampling.min_p = static_cast<float>(number(sampling, "minP"));
    parsed.sampling.repeat_penalty = static_cast<float>(number(sampling, "repeatPenalty"));
    parsed.sampling.repeat_last_n = integer(sampling, "repeatLastN");
    parsed.sampling.frequency_penalty = static_cast<float>(number(sampling, "frequencyPenalty"));
    parsed.sampling.presence_penalty = static_cast<float>(number(sampling, "presencePenalty"));
    parsed.sampling.seed = sampling.Get("seed").As<Napi::Number>().Uint32Value();

    const Napi::Array stop = request.Get("stop").As<Napi::Array>();
    for (uint32_t i = 0; i < stop.Length(); ++i) parsed.stop.push_back(stop.Get(i).As<Napi::String>().Utf8Value());
    const Napi::Array logit_bias = request.Get("logitBias").As<Napi::Array>();
    for (uint32_t i = 0; i < logit_bias.Length(); ++i) {
        const Napi::Object entry = logit_bias.Get(i).As<Napi::Object>();
        parsed.constraints.logit_bias.push_back({integer(entry, "token"), static_cast<float>(number(entry, "bias"))});
    }
    parsed.constraints.grammar = text(request, "grammar");
    parsed.constraints.json_schema = text(request, "jsonSchema");

    parsed.max_tokens = integer(request, "maxTokens");
    parsed.trace = request.Get("trace").As<Napi::Boolean>().Value();
    parsed.capture_logits = request.Get("captureLogits").As<Napi::Boolean>().Value();
    const std::string where = text(request, "realignOn");
    parsed.realign_on = where == "cpu" ? RealignOn::Cpu : where == "backend" ? RealignOn::Backend : RealignOn::Auto;
    parsed.overflow = text(request, "contextOverflow") == "dropOldestTurns" ? ContextOverflow::DropOldestTurns
                                                                            : ContextOverflow::Error;
    return parsed;
}

BeamSearchRequest parse_beam_search_request(const Napi::Object & request) {
    BeamSearchRequest parsed;
    parsed.system_prompt = text(request, "systemPrompt");
    const Napi::Array preferences = request.Get("preferences").As<Napi::Array>();
    for (uint32_t i = 0; i < preferences.Length(); ++i) {
        parsed.preference_texts.push_back(preferences.Get(i).As<Napi::String>().Utf8Value());
    }
    parsed.turns = parse_turns(request.Get("turns").As<Napi::Array>());
    parsed.beams = integer(request, "beams");
    parsed.max_tokens = integer(request, "maxTokens");
    parsed.length_penalty = number(request, "lengthPenalty");
    parsed.threads = integer(request, "threads");
    parsed.batch_size = integer(request, "batchSize");
    return parsed;
}

ScoreRequest parse_score_request(const Napi::Object & request) {
    ScoreRequest parsed;
    parsed.system_prompt = text(request, "systemPrompt");
    parsed.turns = parse_turns(request.Get("turns").As<Napi::Array>());
    const Napi::Value continuation = request.Get("continuation");
    if (continuation.IsString()) {
        parsed.continuation_text = continuation.As<Napi::String>().Utf8Value();
    } else {
        const Napi::Array tokens = continuation.As<Napi::Array>();
        for (uint32_t i = 0; i < tokens.Length(); ++i) {
            parsed.continuation.push_back(tokens.Get(i).As<Napi::Number>().Int32Value());
        }
    }
    return parsed;
}

}  // namespace amulet
