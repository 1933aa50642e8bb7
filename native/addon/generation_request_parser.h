// Maps the camelCase request objects built by lib/ onto the engine's
// GenerationRequest, BeamSearchRequest and ScoreRequest, once, at the
// binding boundary.
// lib/ has validated every field with exact messages; this only converts.
#pragma once

#include <napi.h>

#include "engine/beam_search.h"
#include "engine/generation.h"
#include "engine/scorer.h"
#include "engine/context_options.h"

namespace amulet {

/** Throws std::invalid_argument for an unknown method (the only check left to native code). */
GenerationRequest parse_generation_request(const Napi::Object & request);

/** Reads [{ role, content }, ...]. */
std::vector<ChatMessage> parse_turns(const Napi::Array & turns);

/** Reads { method, alpha, lambda, eta, iterations, ratio } (weights are left empty). */
RealignParams parse_realign_params(const Napi::Object & options);

/** Reads { contextSize, threads, batchSize } and, for a shared context, { sequences, cacheSize }. */
ContextOptions parse_context_options(const Napi::Object & options);

/** Reads lib/beam-search.ts's request: { systemPrompt, preferences (texts), turns, beams, maxTokens, ... }. */
BeamSearchRequest parse_beam_search_request(const Napi::Object & request);

/** Reads lib/scorer.ts's request: { systemPrompt, turns, continuation (token ids) | continuationText }. */
ScoreRequest parse_score_request(const Napi::Object & request);

}  // namespace amulet
