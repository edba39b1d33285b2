/**
 * Instruction texts in the exact shape of LLM-Adapters' commonsense records (dataset/<task>/test.json and
 * ft-training_set/commonsense_170k.json): the same lead-in sentences, choice markers, spacing and
 * "Answer format:" line, so embedded and real records parse, prompt and extract alike. Choices are numbered
 * from 1; `answer` arguments elsewhere are 0-based.
 */

/** BoolQ: "Please answer the following question with true or false, question: …?\n\nAnswer format: true/false". */
export function boolqInstruction(question: string): string {
  return `Please answer the following question with true or false, question: ${question}?\n\nAnswer format: true/false`;
}

/** PIQA: each solution on its own paragraph. */
export function piqaInstruction(goal: string, solutions: readonly [string, string]): string {
  return `Please choose the correct solution to the question: ${goal}\n\nSolution1: ${solutions[0]}\n\n` +
    `Solution2: ${solutions[1]}\n\nAnswer format: solution1/solution2`;
}

/** SIQA, ARC-e, ARC-c, OBQA: answers on one line ("Answer1: … Answer2: …"), then the answer format. */
export function answerInstruction(question: string, answers: readonly string[]): string {
  const listed = answers.map((a, i) => `Answer${i + 1}: ${a}`).join(" ");
  const format = answers.map((_, i) => `answer${i + 1}`).join("/");
  return `Please choose the correct answer to the question: ${question}\n\n${listed}\n\nAnswer format: ${format}`;
}

/** HellaSwag: "<activity>: <context>", endings on one line. */
export function endingInstruction(activity: string, context: string, endings: readonly string[]): string {
  const listed = endings.map((e, i) => `Ending${i + 1}: ${e}`).join(" ");
  const format = endings.map((_, i) => `ending${i + 1}`).join("/");
  return `Please choose the correct ending to complete the given sentence: ${activity}: ${context}\n\n${listed}\n\n` +
    `Answer format: ${format}`;
}

/** WinoGrande: options and answer format on one line, as in LLM-Adapters' file. */
export function blankInstruction(sentence: string, options: readonly [string, string]): string {
  return `Please choose the correct answer to fill in the blank to complete the given sentence: ${sentence}\n\n` +
    `Option1: ${options[0]} Option2: ${options[1]} Answer format: option1/option2`;
}
