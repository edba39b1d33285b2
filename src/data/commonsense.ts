/**
 * Loaders for LLM-Adapters' real commonsense files (AGI-Edgerunners/LLM-Adapters): the training mix
 * `ft-training_set/commonsense_170k.json` and the test sets `dataset/<task>/test.json` for BoolQ, PIQA, SIQA,
 * HellaSwag, WinoGrande, ARC-e, ARC-c and OBQA. Each file is a JSON array of {instruction, input, output, answer}.
 *
 * A malformed record (not an object, a missing or non-string field, an answer its task does not offer, an output
 * that states another answer) is never passed over silently: with `onBadRecord: "fail"` (default) it is a
 * one-line DataError naming file, record index and field; with "skip" it is a warning line and left out.
 *
 * The training mix carries no task label, so the task is read off the instruction's "Answer format:" line.
 * true/false, solution1/2, ending1..4 and option1/2 each belong to one benchmark; "answer1/answer2/answer3" is
 * SIQA (a handful of 3-choice ARC questions land there too); 4- and 5-answer questions are ARC-e, ARC-c or OBQA,
 * which share one format and one answer regex, and are tagged `multipleChoiceTask` (default "openbookqa", the
 * largest of the three in commonsense_170k). Scoring is the same whichever of them is chosen. A record whose
 * answer format names no commonsense task (math data, say) is a malformed record.
 */
import { join } from "node:path";
import { DataError } from "../errors.ts";
import { ANSWER_WORDS, answerFormatWords, answerWords, extractAnswer } from "./prompt.ts";
import { type QARecord, type TaskName, TASKS } from "./types.ts";

export type OnBadRecord = "skip" | "fail";

export interface LoadOptions {
  onBadRecord?: OnBadRecord;
  /** Where skipped-record warnings go (default console.warn). */
  warn?: (line: string) => void;
  /** The task given to 4- and 5-answer training questions (see the header). */
  multipleChoiceTask?: "ARC-Easy" | "ARC-Challenge" | "openbookqa";
}

export const COMMONSENSE_TRAIN_FILE = "commonsense_170k.json";
const FIELDS = ["instruction", "input", "output", "answer"] as const;
const SIQA_CHOICES = 3;

/** The task an instruction's answer format belongs to, or null when it names none. */
export function inferTask(
  instruction: string,
  multipleChoiceTask: LoadOptions["multipleChoiceTask"] = "openbookqa",
): TaskName | null {
  const words = answerFormatWords(instruction);
  if (!words) return null;
  const fits = (t: TaskName) => words.every((w) => ANSWER_WORDS[t].includes(w));
  for (const t of ["boolq", "piqa", "hellaswag", "winogrande"] as const) if (fits(t)) return t;
  if (!fits("social_i_qa")) return null;
  return words.length === SIQA_CHOICES ? "social_i_qa" : multipleChoiceTask;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

/** The record, or a "record i: field …: problem" message. `task` null = infer from the answer format. */
export function checkRecord(
  value: unknown,
  index: number,
  task: TaskName | null,
  opts: LoadOptions = {},
): QARecord | string {
  const at = `record ${index}`;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return `${at}: is ${describe(value)}, not an object`;
  }
  const v = value as Record<string, unknown>;
  for (const f of FIELDS) {
    if (!(f in v)) return `${at}: field "${f}" is missing`;
    if (typeof v[f] !== "string") return `${at}: field "${f}" is ${describe(v[f])}, not a string`;
  }
  const r = v as Record<typeof FIELDS[number], string>;
  const t = task ?? inferTask(r.instruction, opts.multipleChoiceTask);
  if (t === null) return `${at}: field "instruction": its "Answer format:" names no commonsense task`;
  const offered = answerWords(t, r);
  if (!offered.includes(r.answer)) return `${at}: field "answer": "${r.answer}" is not one of ${offered.join("/")}`;
  const stated = extractAnswer(t, r.output);
  if (stated !== r.answer) return `${at}: field "output": states "${stated}", not the answer "${r.answer}"`;
  return { task: t, instruction: r.instruction, input: r.input, output: r.output, answer: r.answer };
}

/** Parse one file's text (`path` only names it in messages). */
export function parseCommonsenseJson(
  text: string,
  path: string,
  task: TaskName | null,
  opts: LoadOptions = {},
): QARecord[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new DataError(`${path}: not valid JSON (${(e as Error).message}); fix or re-download the file`);
  }
  if (!Array.isArray(data)) throw new DataError(`${path}: expected a JSON array of records, got ${describe(data)}`);
  if (data.length === 0) throw new DataError(`${path}: holds no records ([]); give a file with at least one record`);
  const warn = opts.warn ?? ((line: string) => console.warn(line));
  const records: QARecord[] = [];
  let firstBad = "";
  data.forEach((value, i) => {
    const r = checkRecord(value, i, task, opts);
    if (typeof r !== "string") return void records.push(r);
    firstBad ||= r;
    if (opts.onBadRecord === "skip") warn(`warning: ${path}: ${r}; skipped`);
    else throw new DataError(`${path}: ${r}; fix or remove it, or load with onBadRecord "skip"`);
  });
  if (records.length === 0) {
    throw new DataError(`${path}: all ${data.length} records were skipped (the first: ${firstBad}); nothing to use`);
  }
  return records;
}

async function readText(path: string, hint: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new DataError(`${path}: file not found; ${hint}`);
    throw new DataError(`${path}: cannot read (${(e as Error).message})`);
  }
}

/** `commonsense_170k.json` (or any file in its format), each record's task inferred from its answer format. */
export async function loadCommonsenseTrain(path: string, opts: LoadOptions = {}): Promise<QARecord[]> {
  const text = await readText(path, `download LLM-Adapters' ft-training_set/${COMMONSENSE_TRAIN_FILE}`);
  return parseCommonsenseJson(text, path, null, opts);
}

/** `<dir>/<task>/test.json` for each of `tasks` (default all eight). */
export async function loadCommonsenseTest<T extends TaskName = TaskName>(
  dir: string,
  tasks: readonly T[] = TASKS as readonly TaskName[] as readonly T[],
  opts: LoadOptions = {},
): Promise<Record<T, QARecord[]>> {
  const out = {} as Record<T, QARecord[]>;
  for (const task of tasks) {
    const path = join(dir, task, "test.json");
    const text = await readText(path, `download LLM-Adapters' dataset/${task}/test.json or leave ${task} out`);
    out[task] = parseCommonsenseJson(text, path, task, opts);
  }
  return out;
}
