/**
 * One point of a convergence curve: how the model does on a fixed validation subset, in one batched pass of
 * the `score` protocol (the same forward that picks the answer also gives the answer's likelihood):
 *
 *   accuracy — the score protocol's accuracy, macro-averaged over tasks (as the tables report it);
 *   loss     — mean answer cross-entropy: −Σ_j log p(answer token j | prompt, "the correct answer is", …)
 *              per record (nats; one token per answer word with the embedded tokenizer), averaged per task,
 *              then macro-averaged over tasks. This is the part of the training loss on the answer word, with
 *              no aux losses and no dropout; the training loss also covers the fixed response prefix.
 *
 * Records of all tasks go through together, sorted by prompt length, so a curve point costs
 * ⌈records / batchSize⌉ forwards. Every tensor is disposed (the forwards run under `tf.tidy`). Measured on
 * the embedded base (d 128, 2 layers, 200 records, batch 32, blas on 2 busy cores): 0.9 s for LoRA, 1.9–2.6 s
 * for DynMoLE, about four training steps of batch 16 (0.36 s / 0.57 s there); on the --quick base, 10–35 ms.
 */
import type { Tokenizer } from "../data/tokenizer.ts";
import type { QARecord, TaskName } from "../data/types.ts";
import type { LlamaModel } from "../model/llama.ts";
import { type EvalOptions, scoreCandidates } from "./evaluate.ts";

export interface CurvePoint {
  /** Updates done (0: before training). */
  step: number;
  /** Score-protocol accuracy on the validation subset, macro average over tasks (fraction). */
  valAccuracy: number;
  /** Mean answer cross-entropy on the validation subset, macro average over tasks (nats). */
  valLoss: number;
}

/** Validation accuracy and answer loss of `model` on `records` (see the module comment). */
export async function curvePoint(
  model: LlamaModel,
  tok: Tokenizer,
  records: QARecord[],
  opts: Pick<EvalOptions, "template" | "maxLen" | "batchSize">,
): Promise<{ accuracy: number; loss: number }> {
  const order = records.map((r, i) => ({ r, i, len: r.instruction.length + r.input.length }))
    .sort((a, b) => a.len - b.len || a.i - b.i).map((x) => x.r);
  const perTask = new Map<TaskName, { n: number; correct: number; nll: number; scored: number }>();
  for (let i = 0; i < order.length; i += opts.batchSize) {
    const batch = order.slice(i, i + opts.batchSize);
    const { candidates, scores, predicted } = await scoreCandidates(model, tok, batch, opts);
    batch.forEach((r, b) => {
      let s = perTask.get(r.task);
      if (!s) perTask.set(r.task, s = { n: 0, correct: 0, nll: 0, scored: 0 });
      s.n++;
      if (predicted[b] === r.answer) s.correct++;
      const gold = candidates[b].indexOf(r.answer);
      if (gold >= 0) {
        s.nll -= scores[b][gold];
        s.scored++;
      }
    });
  }
  const tasks = [...perTask.values()];
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, x) => a + x, 0) / xs.length : NaN);
  return {
    accuracy: mean(tasks.map((s) => s.correct / s.n)),
    loss: mean(tasks.filter((s) => s.scored > 0).map((s) => s.nll / s.scored)),
  };
}
