/**
 * How closely two computations of the same log-probabilities must agree.
 *
 * llama.cpp's CPU kernels take other code paths for a micro-batch of one row
 * and for one of many (and the quantised dot products round differently in
 * each), so a row computed in another batch shape, or over a KV cache
 * filled in other shapes, can differ in its last bits, and a model with large
 * activations amplifies that: on Gemma-3-270M, evaluating a 60-token prompt
 * in one decode instead of two moved a next-token log-prob by 0.19 nats.
 * Within one batch shape the same machine computes the same numbers.
 */

/** Same batch shapes, same machine: only float noise in the final log-softmax. */
export const SAME_SHAPES = 1e-5;

/** Different batch shapes: max |Δ log-prob| over tokens with log-prob above {@link LOG_PROB_FLOOR}. */
export const ACROSS_SHAPES = 0.25;

/** ...and the mean |Δ| over the same tokens. */
export const ACROSS_SHAPES_MEAN = 0.05;

/** Tokens below this log-prob (probability < 1e-13) carry no mass and only rounding. */
export const LOG_PROB_FLOOR = -30;
