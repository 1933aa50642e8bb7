// Maps the camelCase request objects built by lib/ onto the engine's
// GenerationRequest, BeamSearchRequest and ScoreRequest, once, at the
// binding boundary.
// lib/ has validated every value against the rules table; this checks each
// field's JavaScript type and each enum's name (ERR_INVALID_OPTION naming the
// field), so a caller that bypasses lib/ gets an error, never a crash.
#pragma once

#include <napi.h>

#include "engine/beam_search.h"
#include "engine/generation.h"
#include "engine/scorer.h"
#include "engine/context_options.h"

namespace amulet {

/** Reads lib/session.ts's request; an unknown method, realignOn or contextOverflow is refused. */
GenerationRequest parse_generation_request(const Napi::Value & request);

/** Reads [{ role, content }, ...]. */
std::vector<ChatMessage> parse_turns(const Napi::Value & turns);

/** Reads { method, alpha, lambda, eta, iterations, ratio } (weights are left empty). */
RealignParams parse_realign_params(const Napi::Value & options);

/** Reads { contextSize, threads, batchSize } and, for a shared context, { sequences, cacheSize }. */
ContextOptions parse_context_options(const Napi::Value & options);

/** Reads lib/beam-search.ts's request: { systemPrompt, preferences (texts), turns, beams, maxTokens, ... }. */
BeamSearchRequest parse_beam_search_request(const Napi::Value & request);

/** Reads lib/scorer.ts's request: { systemPrompt, turns, continuation (token ids) | continuationText }. */
ScoreRequest parse_score_request(const Napi::Value & request);

}  // namespace amulet
