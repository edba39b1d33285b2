/**
 * What the embedded base model is pretrained on besides the facts corpus (`corpus.ts`):
 *
 * - QA documents: for every fact key of the families answered in words (ARC-e, ARC-c, OBQA, SIQA, HellaSwag,
 *   PIQA, BoolQ), the canonical question in the `compact` template answered in words —
 *   "### Instruction:\n…\n\n### Response:\nthe correct answer is forest" — the option's text (BoolQ: the fact
 *   value that decides it, "black" for "is the fox dark?"), never its label.
 *   All keys, test keys included: like a pretrained LLM, the base "knows" the answers and can answer questions;
 *   fine-tuning only has to teach the benchmark's label format (content → answerK), which canonical option
 *   groups make a fixed remap. WinoGrande gets none: its answer words are the labels themselves (option1/option2
 *   from the order of mention), so pretraining on them would teach the task.
 * - Format documents: the prompt templates' fixed text and BoolQ / WinoGrande training instructions without an
 *   answer, so every instruction word has a trained embedding; the suite adds one more document with any word
 *   of the vocabulary still missing from pretraining (normally none).
 */
import { parseConfig, z } from "../config.ts";
import { Rng } from "../util/rng.ts";
import { FAMILIES, keyPositions } from "./families.ts";
import { answerOutput, buildTrainingText, templateTexts } from "./prompt.ts";
import { type Splits, type TaskName, TASKS } from "./types.ts";
import { indexWorld, type World } from "./world.ts";

export const QADocsConfigSchema = z.strictObject({
  /**
   * Documents per fact key, each with a different wording or names where the key has them (0 = none). The
   * default world has 1,178 such keys (seed 0), so 2 gives 2,356 documents of 40–64 tokens.
   */
  repeat: z.number().int().min(0).default(2),
});
export type QADocsConfig = z.output<typeof QADocsConfigSchema>;

export function parseQADocsConfig(value: unknown, where = "qaDocs"): QADocsConfig {
  return parseConfig(QADocsConfigSchema, value, where);
}

/** One answered-in-words question. */
export interface QADocument {
  task: TaskName;
  /** The fact key it states (as the task's splits name keys). */
  key: string;
  instruction: string;
  /** The correct option's text, the document's last words. */
  content: string;
  /** The document: the compact training text with "the correct answer is <content>" as output. */
  text: string;
}

/** The tasks that get QA documents. */
export const QA_DOC_TASKS: readonly TaskName[] = TASKS.filter((t) => FAMILIES[t].qaDocs);

/** Draws per document looking for a question not yet written for its key. */
const FRESH_TRIES = 8;

/** `repeat` QA documents for every canonical fact key of the QA_DOC_TASKS, in task then key order. */
export function qaDocuments(world: World, config: unknown, seed: number): QADocument[] {
  const { repeat } = parseQADocsConfig(config);
  const ctx = { world, index: indexWorld(world) };
  const out: QADocument[] = [];
  for (const task of QA_DOC_TASKS) {
    const family = FAMILIES[task];
    const mode = family.modes.canonical;
    const rng = new Rng(seed).fork(`qa-docs/${task}`);
    for (const key of mode.keys(world, rng.fork("keys"))) {
      const [position] = keyPositions(family, "canonical", ctx, key);
      const written = new Set<string>();
      for (let j = 0; j < repeat; j++) {
        let q = mode.make(ctx, key, position, rng);
        for (let t = 1; t < FRESH_TRIES && q !== null && written.has(q.instruction); t++) {
          q = mode.make(ctx, key, position, rng);
        }
        if (q === null) throw new Error(`qaDocuments: ${task} key ${key} has no question at its own position`);
        written.add(q.instruction);
        const text = buildTrainingText(
          { instruction: q.instruction, input: "", output: answerOutput(q.words ?? q.content) },
          "compact",
        );
        out.push({ task, key, instruction: q.instruction, content: q.words ?? q.content, text });
      }
    }
  }
  return out;
}

/** The tasks whose (unanswered) training instructions are format documents. */
export const FORMAT_DOC_TASKS: readonly TaskName[] = TASKS.filter((t) => !FAMILIES[t].qaDocs);

/**
 * `n` format documents: the templates' fixed text, then FORMAT_DOC_TASKS' training instructions in turn (no
 * answers), picked by `rng`. Fewer when there is nothing to draw from.
 */
export function formatDocuments(tasks: Record<TaskName, Splits>, n: number, rng: Rng): string[] {
  const docs = [...new Set(templateTexts().filter((t) => t.trim().length > 0))].slice(0, n);
  const pools = FORMAT_DOC_TASKS.map((t) => tasks[t].train).filter((p) => p.length > 0);
  for (let i = 0; docs.length < n && pools.length > 0; i++) docs.push(rng.pick(pools[i % pools.length]).instruction);
  return docs;
}
