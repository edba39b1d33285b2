/**
 * The prompt and answer extraction of LLM-Adapters' commonsense recipe (AGI-Edgerunners/LLM-Adapters:
 * `finetune.py` generate_prompt, `commonsense_evaluate.py` generate_prompt / extract_answer), which the MoE-LoRA
 * papers (MixLoRA, AdaMoLE, DynMoLE, MoA, MoLA) reuse for BoolQ … OBQA.
 *
 * Templates:
 * - `alpaca`: the Alpaca-LoRA text those scripts are derived from, with clean whitespace.
 * - `llm_adapters`: LLM-Adapters' strings byte for byte. Their source indents the template, so the prompt carries
 *   16-space runs, and training (`finetune.py`) and evaluation (`commonsense_evaluate.py`) differ in whitespace;
 *   this template reproduces both (`train` vs `eval`) for real checkpoints whose tokenizers see whitespace.
 * - `compact`: the same `### Instruction:` / `### Response:` markers and extraction without the 19-word preamble,
 *   for the tiny embedded model, where the preamble would be a third of every sequence and carry no information.
 * A word-level tokenizer drops whitespace, so `alpaca` and `llm_adapters` tokenize identically there.
 */
import { z } from "../config.ts";
import { type TaskName, TASKS } from "./types.ts";
import type { QARecord } from "./types.ts";

/** The words `extract_answer` searches for, per task, in its regex's order. */
export const ANSWER_WORDS: Readonly<Record<TaskName, readonly string[]>> = (() => {
  const answerN = ["answer1", "answer2", "answer3", "answer4", "answer5"];
  return {
    boolq: ["true", "false"],
    piqa: ["solution1", "solution2"],
    social_i_qa: answerN,
    hellaswag: ["ending1", "ending2", "ending3", "ending4"],
    winogrande: ["option1", "option2"],
    "ARC-Easy": answerN,
    "ARC-Challenge": answerN,
    openbookqa: answerN,
  };
})();

/** LLM-Adapters' regexes: `re.findall(r'answer1|answer2|…', sentence.strip())[0]`. */
const ANSWER_PATTERNS = Object.fromEntries(
  TASKS.map((t) => [t, new RegExp(ANSWER_WORDS[t].join("|"))]),
) as Record<TaskName, RegExp>;

/** The first of the task's answer words in `text` (case-sensitive, as in LLM-Adapters), or "" when none. */
export function extractAnswer(task: TaskName, text: string): string {
  return text.trim().match(ANSWER_PATTERNS[task])?.[0] ?? "";
}

const ANSWER_FORMAT = "Answer format:";

/** The words after the instruction's last "Answer format:" ("answer1/answer2/answer3" → 3 words), or null. */
export function answerFormatWords(instruction: string): string[] | null {
  const at = instruction.lastIndexOf(ANSWER_FORMAT);
  if (at < 0) return null;
  const words = instruction.slice(at + ANSWER_FORMAT.length).trim().split("/").map((w) => w.trim());
  return words.every((w) => w.length > 0) ? words : null;
}

/**
 * Candidate answer words for scoring: those the record's answer format offers (so a 3-choice ARC question
 * scores answer1..answer3), falling back to all of the task's words without a record or a readable format.
 */
export function answerWords(task: TaskName, record?: Pick<QARecord, "instruction">): string[] {
  const all = ANSWER_WORDS[task];
  const offered = record ? answerFormatWords(record.instruction) : null;
  return offered && offered.every((w) => all.includes(w)) ? offered : [...all];
}

/** The text after the first "### Response:" marker (any case), trimmed; all of `text` when there is none. */
export function responseOf(text: string): string {
  const m = /###\s*response\s*:/i.exec(text);
  return (m ? text.slice(m.index + m[0].length) : text).trim();
}

export const TEMPLATE_NAMES = ["alpaca", "llm_adapters", "compact"] as const;
export type TemplateName = typeof TEMPLATE_NAMES[number];
export const TemplateNameSchema = z.enum(TEMPLATE_NAMES);

type Prefix = (instruction: string, input: string) => string;
interface PromptTemplate {
  /** Text before the output in a training example (the loss-masked part). */
  train: Prefix;
  /** The prompt the model continues at evaluation. */
  eval: Prefix;
}

const NO_INPUT =
  "Below is an instruction that describes a task. Write a response that appropriately completes the request.";
const WITH_INPUT =
  "Below is an instruction that describes a task, paired with an input that provides further context. " +
  "Write a response that appropriately completes the request.";
/** The indentation LLM-Adapters' triple-quoted f-strings put before each line. */
const PAD16 = " ".repeat(16);

const alpaca: Prefix = (ins, inp) =>
  inp
    ? `${WITH_INPUT}\n\n### Instruction:\n${ins}\n\n### Input:\n${inp}\n\n### Response:\n`
    : `${NO_INPUT}\n\n### Instruction:\n${ins}\n\n### Response:\n`;

const compact: Prefix = (ins, inp) =>
  inp
    ? `### Instruction:\n${ins}\n\n### Input:\n${inp}\n\n### Response:\n`
    : `### Instruction:\n${ins}\n\n### Response:\n`;

/** finetune.py's generate_prompt, minus the output. */
const llmAdaptersTrain: Prefix = (ins, inp) =>
  inp
    ? `${WITH_INPUT} \n\n${PAD16}### Instruction:\n${PAD16}${ins}\n${PAD16}\n${PAD16}### Input:\n${PAD16}${inp}\n` +
      `${PAD16}\n${PAD16}### Response:\n${PAD16}`
    : `${NO_INPUT}  \n\n${PAD16}### Instruction:\n${PAD16}${ins}\n${PAD16}\n${PAD16}### Response:\n${PAD16}`;

/** commonsense_evaluate.py's generate_prompt. */
const llmAdaptersEval: Prefix = (ins, inp) =>
  inp
    ? `${WITH_INPUT}\n\n${PAD16}### Instruction:\n${PAD16}${ins}\n\n${PAD16}### Input:\n${PAD16}${inp}\n\n` +
      `${PAD16}### Response:\n${PAD16}`
    : `${NO_INPUT} \n\n${PAD16}### Instruction:\n${PAD16}${ins}\n\n${PAD16}### Response:\n${PAD16}`;

export const TEMPLATES: Readonly<Record<TemplateName, PromptTemplate>> = {
  alpaca: { train: alpaca, eval: alpaca },
  llm_adapters: { train: llmAdaptersTrain, eval: llmAdaptersEval },
  compact: { train: compact, eval: compact },
};

type PromptFields = Pick<QARecord, "instruction" | "input">;

/** The evaluation prompt (ends just before the answer). */
export function buildPrompt(record: PromptFields, template: TemplateName = "alpaca"): string {
  return TEMPLATES[template].eval(record.instruction, record.input);
}

/** The training prompt and response separately: the prompt is masked out of the loss unless trainOnInputs. */
export function trainingParts(
  record: PromptFields & Pick<QARecord, "output">,
  template: TemplateName = "alpaca",
): { prompt: string; response: string } {
  return { prompt: TEMPLATES[template].train(record.instruction, record.input), response: record.output };
}

/** The whole training text: prompt followed by the output. */
export function buildTrainingText(
  record: PromptFields & Pick<QARecord, "output">,
  template: TemplateName = "alpaca",
): string {
  const { prompt, response } = trainingParts(record, template);
  return prompt + response;
}

/** Every fixed word the templates can add, for building a vocabulary that covers any prompt. */
export function templateTexts(): string[] {
  return TEMPLATE_NAMES.flatMap((t) => [
    TEMPLATES[t].train("", ""),
    TEMPLATES[t].train("", " "),
    TEMPLATES[t].eval("", ""),
    TEMPLATES[t].eval("", " "),
  ]);
}

/** The words every LLM-Adapters commonsense output starts with, before the answer word. */
export const ANSWER_PREFIX = "the correct answer is";

/** LLM-Adapters' response text: "the correct answer is answer2". */
export function answerOutput(answer: string): string {
  return `${ANSWER_PREFIX} ${answer}`;
}
