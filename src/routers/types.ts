/**
 * The small interface every routing method implements. A router sees a site's input tokens and returns
 * the routing weights g [T, N] that scale each expert's output, plus what its auxiliary losses and the
 * diagnostics need. Methods differ only in g and in their losses (methods.md §1).
 */
import type * as tf from "@tensorflow/tfjs";

/** What the forward pass knows about the batch. */
export interface RouteContext {
  /** Training: aux-loss terms are produced (the reference code computes them only in training). */
  training: boolean;
  /** [T] 1 for real tokens, 0 for padding; null when every row is a real token. */
  mask: tf.Tensor1D | null;
}

/** One site's contribution to the auxiliary losses of one forward pass. */
export interface SiteAux {
  /** Decoder layer of the site (MoLA aggregates per layer). */
  layer: number;
  nExperts: number;
  /** [N] the load-balance "fraction" term f (token counts, or mean masked probabilities for DynMoLE). */
  f: tf.Tensor1D;
  /** [N] the load-balance "probability" term P (mean p, or mean p − τ for AdaMoLE). */
  P: tf.Tensor1D;
  /** Scalar mean router entropy over tokens (DynMoLE's entropy loss). */
  entropy?: tf.Scalar;
}

export interface Routing {
  /** [T, N] weights applied to the experts' outputs; 0 for inactive experts. */
  g: tf.Tensor2D;
  /** [T, N] the router's scores: softmax probabilities (sigmoid scores for MoA). */
  p: tf.Tensor2D;
  /** [T, N] 1 where an expert is active for the token, else 0 (no gradient). */
  active: tf.Tensor2D;
  /** [T] per-token threshold τ (AdaMoLE, fixed-threshold MoLE, sparse MoA). */
  threshold?: tf.Tensor1D;
  /** [T] the normalised entropy the routing rule used (DynMoLE). */
  entropy?: tf.Tensor1D;
  /** Aux-loss terms; present in training for methods that have an aux loss. */
  aux?: SiteAux;
}

export interface Router {
  readonly nExperts: number;
  /** Trainable parameters by local name (`weight`, `threshold.weight`, …). */
  readonly params: Record<string, tf.Variable>;
  route(x: tf.Tensor2D, ctx: RouteContext): Routing;
}

/** The auxiliary loss of one forward pass: the coefficient-weighted total and its named parts (unweighted). */
export interface AuxLoss {
  total: tf.Scalar;
  parts: Record<string, tf.Scalar>;
}
