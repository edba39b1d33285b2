/**
 * Evaluation in both protocols the papers use, which give different numbers for the same model:
 *   generate — greedy decoding of the response, then the first of the task's answer words in it
 *              (LLM-Adapters' `extract_answer`; MoA, MixLoRA, DynMoLE via MoE-PEFT's generation path);
 *   score    — after the prompt and "the correct answer is", the candidate answer word with the highest
 *              log-likelihood (AdaMoLE's `--logits`, MoE-PEFT's choice scoring). Multi-token candidates
 *              (real tokenizers) are scored by their summed token log-probabilities.
 * Accuracy per task, and the macro average over tasks (the papers' "avg" column).
 */
import * as tf from "@tensorflow/tfjs";
import { encodePrompt } from "../data/batch.ts";
import { ANSWER_PREFIX, answerWords, extractAnswer, type TemplateName } from "../data/prompt.ts";
import type { Tokenizer } from "../data/tokenizer.ts";
import type { QARecord, TaskName } from "../data/types.ts";
import type { LlamaModel } from "../model/llama.ts";
import { forwardContext } from "../moe/moe_linear.ts";
import { type LayerSpecialisation, SpecialisationCollector } from "../moe/specialisation.ts";
import { collectStats, exampleRouting, type SiteStats } from "../moe/stats.ts";

export const PROTOCOLS = ["generate", "score"] as const;
export type Protocol = typeof PROTOCOLS[number];

export interface EvalOptions {
  protocol: Protocol;
  template: TemplateName;
  maxLen: number;
  batchSize: number;
  /** Tokens to generate at most (generate protocol). */
  maxNewTokens: number;
  /** Also aggregate routing statistics over the evaluated prompts. */
  routing?: boolean;
  /** Permutations of the task-shuffled null of the routing-specialisation measure (default 1000). */
  permutations?: number;
}

export interface TaskScore {
  n: number;
  correct: number;
  accuracy: number;
  /** Generate protocol: outputs with none of the task's answer words. */
  unanswered: number;
}

export interface EvalResult {
  protocol: Protocol;
  perTask: Partial<Record<TaskName, TaskScore>>;
  /** Macro average of the per-task accuracies. */
  average: number;
  n: number;
  /** Per record, in the order of `records`: 1 if answered correctly, else 0 (paired statistics). */
  correct: Uint8Array;
  wallMs: number;
  /** Token-weighted routing statistics per site (when requested and the model routes). */
  routing?: Record<string, SiteStats>;
  /** The same, per task. */
  routingByTask?: Partial<Record<TaskName, Record<string, SiteStats>>>;
  /** Per layer, how much the routing tells about the task: NMI(task; expert) and its task-shuffled null. */
  specialisation?: LayerSpecialisation[];
}

/** Token-weighted running means of per-site routing statistics. */
class RoutingMeans {
  private sums = new Map<string, { w: number; s: SiteStats }>();

  /** `examples`: where forwards also add per-example routing under `task` (the specialisation measure). */
  constructor(readonly examples: SpecialisationCollector | null = null, readonly task = "") {}

  add(stats: Record<string, SiteStats>, weight: number): void {
    for (const [site, s] of Object.entries(stats)) {
      const acc = this.sums.get(site);
      if (!acc) {
        this.sums.set(site, { w: weight, s: scale(s, weight) });
        continue;
      }
      acc.w += weight;
      acc.s = combine(acc.s, scale(s, weight));
    }
  }

  result(): Record<string, SiteStats> {
    return Object.fromEntries([...this.sums].map(([k, { w, s }]) => [k, scale(s, 1 / w)]));
  }

  /** Add another accumulator's sums (token weights carry over). */
  merge(other: RoutingMeans): void {
    for (const [site, { w, s }] of other.sums) {
      const acc = this.sums.get(site);
      if (!acc) this.sums.set(site, { w, s: { ...s, load: [...s.load], weight: [...s.weight] } });
      else {
        acc.w += w;
        acc.s = combine(acc.s, s);
      }
    }
  }
}

function scale(s: SiteStats, k: number): SiteStats {
  const out: SiteStats = {
    nExperts: s.nExperts,
    meanActive: s.meanActive * k,
    entropy: s.entropy * k,
    load: s.load.map((v) => v * k),
    weight: s.weight.map((v) => v * k),
  };
  if (s.threshold !== undefined) out.threshold = s.threshold * k;
  return out;
}

function combine(a: SiteStats, b: SiteStats): SiteStats {
  const out: SiteStats = {
    nExperts: a.nExperts,
    meanActive: a.meanActive + b.meanActive,
    entropy: a.entropy + b.entropy,
    load: a.load.map((v, i) => v + b.load[i]),
    weight: a.weight.map((v, i) => v + b.weight[i]),
  };
  if (a.threshold !== undefined && b.threshold !== undefined) out.threshold = a.threshold + b.threshold;
  return out;
}

/** Right-pad rows to one length (a multiple of 8, so causal masks are reused); ids [B, S] and mask [B·S]. */
function padRows(rows: number[][], padId: number): { ids: Int32Array; mask: Float32Array; S: number } {
  const S = Math.ceil(Math.max(...rows.map((r) => r.length)) / 8) * 8;
  const ids = new Int32Array(rows.length * S).fill(padId);
  const mask = new Float32Array(rows.length * S);
  rows.forEach((r, b) => {
    ids.set(r, b * S);
    mask.fill(1, b * S, b * S + r.length);
  });
  return { ids, mask, S };
}

/**
 * Logits at chosen positions: run `rows` (right-padded) once and return, per row, log-softmax rows at
 * `positions[b]` ([K_b][V] on the host). Routing stats of this forward go to `routing` when given, and
 * per-example routing to its collector, with `owners[b]` the record of row b.
 */
async function logProbsAt(
  model: LlamaModel,
  rows: number[][],
  positions: number[][],
  padId: number,
  routing: RoutingMeans | null,
  owners: readonly unknown[] = [],
): Promise<Float32Array[][]> {
  const { ids, mask, S } = padRows(rows, padId);
  const V = model.cfg.vocabSize;
  const flat = positions.flatMap((ps, b) => ps.map((p) => b * S + p));
  const ctx = forwardContext({ routings: routing ? new Map() : undefined });
  const maskT = tf.tensor1d(mask);
  const picked = tf.tidy(() => {
    const h = model.hidden(tf.tensor2d(ids, [rows.length, S], "int32"), ctx); // [B·S, d]
    return tf.logSoftmax(model.head(tf.gather(h, tf.tensor1d(flat, "int32")))); // [ΣK, V]: the head only where read
  });
  const data = (await picked.data()) as Float32Array;
  picked.dispose();
  if (routing?.examples && ctx.routings && owners.length === rows.length) {
    const ex = await exampleRouting(ctx.routings, maskT, rows.length);
    if (ex) routing.examples.add(routing.task, owners, ex.layers, ex.data, ex.width);
  }
  if (routing && ctx.routings) routing.add(await collectStats(ctx.routings, maskT), mask.reduce((a, b) => a + b, 0));
  maskT.dispose();
  let at = 0;
  return positions.map((ps) => ps.map(() => data.subarray(V * at, V * ++at)));
}

const argmax = (xs: number[]) => xs.reduce((best, v, i) => (v > xs[best] ? i : best), 0);

/** Score protocol for a batch of records: the best candidate per record. */
async function scoreBatch(
  model: LlamaModel,
  tok: Tokenizer,
  batch: QARecord[],
  opts: EvalOptions,
  routing: RoutingMeans | null,
): Promise<string[]> {
  return (await scoreCandidates(model, tok, batch, opts, routing)).predicted;
}

/**
 * The score protocol's numbers for a batch: each record's candidate answer words, the log-likelihood of each
 * (summed over its tokens) after the prompt and "the correct answer is", and the winner (first of the best).
 */
export async function scoreCandidates(
  model: LlamaModel,
  tok: Tokenizer,
  batch: QARecord[],
  opts: Pick<EvalOptions, "template" | "maxLen">,
  routing: RoutingMeans | null = null,
): Promise<{ candidates: string[][]; scores: number[][]; predicted: string[] }> {
  const prompts = batch.map((r) =>
    encodePrompt(tok, r, { template: opts.template, maxLen: opts.maxLen - 4, suffix: ANSWER_PREFIX }).ids
  );
  const candidates = batch.map((r) => answerWords(r.task, r));
  const candIds = candidates.map((cs) => cs.map((c) => tok.encode(" " + c)));
  if (candIds.every((cs) => cs.every((ids) => ids.length === 1))) {
    // one forward: next-token log-probs after the prefix
    const lp = await logProbsAt(model, prompts, prompts.map((p) => [p.length - 1]), tok.padId, routing, batch);
    const scores = batch.map((_, b) => candIds[b].map((ids) => lp[b][0][ids[0]]));
    return { candidates, scores, predicted: scores.map((s, b) => candidates[b][argmax(s)]) };
  }
  // teacher-forced continuation per candidate: Σ_j log p(c_j | prefix, c_<j)
  const rows: number[][] = [];
  const pos: number[][] = [];
  const owners: QARecord[] = [];
  batch.forEach((r, b) =>
    candIds[b].forEach((ids) => {
      rows.push([...prompts[b], ...ids]);
      pos.push(ids.map((_, j) => prompts[b].length - 1 + j));
      owners.push(r);
    })
  );
  const lp = await logProbsAt(model, rows, pos, tok.padId, routing, owners);
  let row = 0;
  const scores = batch.map((_, b) =>
    candIds[b].map((ids) => {
      const rowLp = lp[row++];
      return ids.reduce((s, id, j) => s + rowLp[j][id], 0);
    })
  );
  return { candidates, scores, predicted: scores.map((s, b) => candidates[b][argmax(s)]) };
}

/** Generate protocol for a batch: greedy decoding until eos (or maxNewTokens), then answer extraction. */
async function generateBatch(
  model: LlamaModel,
  tok: Tokenizer,
  batch: QARecord[],
  opts: EvalOptions,
  routing: RoutingMeans | null,
): Promise<string[]> {
  const rows = batch.map((r) =>
    encodePrompt(tok, r, { template: opts.template, maxLen: opts.maxLen - opts.maxNewTokens }).ids
  );
  const outputs = rows.map(() => [] as number[]);
  const done = rows.map(() => false);
  for (let step = 0; step < opts.maxNewTokens && done.includes(false); step++) {
    const lp = await logProbsAt(
      model,
      rows,
      rows.map((r) => [r.length - 1]),
      tok.padId,
      step === 0 ? routing : null,
      batch,
    );
    rows.forEach((r, b) => {
      if (done[b]) return;
      const next = argmax(Array.from(lp[b][0]));
      if (next === tok.eosId) done[b] = true;
      else {
        r.push(next);
        outputs[b].push(next);
      }
    });
  }
  return batch.map((r, b) => extractAnswer(r.task, tok.decode(outputs[b])));
}

/**
 * Evaluate `model` on `records`: task by task (so routing statistics can be kept per task), each task's
 * records in batches sorted by prompt length (deterministic).
 */
export async function evaluate(
  model: LlamaModel,
  tok: Tokenizer,
  records: QARecord[],
  opts: EvalOptions,
): Promise<EvalResult> {
  const t0 = performance.now();
  const routed = Boolean(opts.routing && model.method);
  const overall = routed ? new RoutingMeans() : null;
  const examples = routed ? new SpecialisationCollector() : null;
  const byTask: Partial<Record<TaskName, Record<string, SiteStats>>> = {};
  const perTask: Partial<Record<TaskName, TaskScore>> = {};
  const tasks = [...new Set(records.map((r) => r.task))];
  const correct = new Uint8Array(records.length);
  for (const task of tasks) {
    const sorted = records.map((r, i) => ({ r, i, len: r.instruction.length + r.input.length }))
      .filter((x) => x.r.task === task)
      .sort((a, b) => a.len - b.len || a.i - b.i);
    const order = sorted.map((x) => x.r);
    const routing = routed ? new RoutingMeans(examples, task) : null;
    const s: TaskScore = { n: 0, correct: 0, accuracy: 0, unanswered: 0 };
    for (let i = 0; i < order.length; i += opts.batchSize) {
      const batch = order.slice(i, i + opts.batchSize);
      const answers = opts.protocol === "score"
        ? await scoreBatch(model, tok, batch, opts, routing)
        : await generateBatch(model, tok, batch, opts, routing);
      batch.forEach((r, b) => {
        s.n++;
        if (answers[b] === r.answer) {
          s.correct++;
          correct[sorted[i + b].i] = 1;
        }
        if (answers[b] === "") s.unanswered++;
      });
    }
    s.accuracy = s.correct / s.n;
    perTask[task] = s;
    if (routing && overall) {
      byTask[task] = routing.result();
      overall.merge(routing);
    }
  }
  const scores = Object.values(perTask) as TaskScore[];
  return {
    protocol: opts.protocol,
    perTask,
    average: scores.reduce((a, s) => a + s.accuracy, 0) / Math.max(1, scores.length),
    n: records.length,
    correct,
    wallMs: performance.now() - t0,
    ...(overall ? { routing: overall.result(), routingByTask: byTask } : {}),
    ...(examples?.size ? { specialisation: examples.result({ permutations: opts.permutations }) } : {}),
  };
}
