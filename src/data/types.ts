/**
 * The record shape every task uses, embedded or real: LLM-Adapters' commonsense JSON records
 * (`instruction`, `input`, `output`, `answer`), tagged with the task they belong to.
 */

/** The eight commonsense tasks, named as LLM-Adapters' dataset folders name them. */
export const TASKS = [
  "boolq",
  "piqa",
  "social_i_qa",
  "hellaswag",
  "winogrande",
  "ARC-Easy",
  "ARC-Challenge",
  "openbookqa",
] as const;
export type TaskName = typeof TASKS[number];

/** One example. `output` is the full target text ("the correct answer is answer2"); `answer` the label. */
export interface QARecord {
  task: TaskName;
  instruction: string;
  input: string;
  output: string;
  answer: string;
}

/** Train / validation / test records of one task suite. */
export interface Splits {
  train: QARecord[];
  validation: QARecord[];
  test: QARecord[];
}
