import { assertEquals } from "../testing/asserts.ts";
import {
  ANSWER_WORDS,
  answerFormatWords,
  answerWords,
  buildPrompt,
  buildTrainingText,
  extractAnswer,
  responseOf,
  trainingParts,
} from "./prompt.ts";
import type { QARecord, TaskName } from "./types.ts";

const REC: QARecord = {
  task: "boolq",
  instruction: "Please answer the following question with true or false, question: is the fox red?\n\n" +
    "Answer format: true/false",
  input: "",
  output: "the correct answer is true",
  answer: "true",
};
const WITH_INPUT = { ...REC, input: "the fox is red ." };

Deno.test("alpaca: the Alpaca-LoRA text, with and without input", () => {
  assertEquals(
    buildPrompt(REC, "alpaca"),
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n" +
      `### Instruction:\n${REC.instruction}\n\n### Response:\n`,
  );
  assertEquals(
    buildPrompt(WITH_INPUT, "alpaca"),
    "Below is an instruction that describes a task, paired with an input that provides further context. Write a " +
      "response that appropriately completes the request.\n\n" +
      `### Instruction:\n${REC.instruction}\n\n### Input:\nthe fox is red .\n\n### Response:\n`,
  );
  assertEquals(buildTrainingText(REC, "alpaca"), buildPrompt(REC, "alpaca") + "the correct answer is true");
});

Deno.test("llm_adapters: finetune.py and commonsense_evaluate.py strings byte for byte", () => {
  const I = "{I}";
  const P = " ".repeat(16);
  const rec = { instruction: I, input: "", output: "{O}" };
  // Reference strings printed by running LLM-Adapters' own generate_prompt functions.
  assertEquals(
    buildTrainingText(rec, "llm_adapters"),
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.  \n\n" +
      `${P}### Instruction:\n${P}{I}\n${P}\n${P}### Response:\n${P}{O}`,
  );
  assertEquals(
    buildTrainingText({ ...rec, input: "{N}" }, "llm_adapters"),
    "Below is an instruction that describes a task, paired with an input that provides further context. Write a " +
      "response that appropriately completes the request. \n\n" +
      `${P}### Instruction:\n${P}{I}\n${P}\n${P}### Input:\n${P}{N}\n${P}\n${P}### Response:\n${P}{O}`,
  );
  assertEquals(
    buildPrompt(rec, "llm_adapters"),
    "Below is an instruction that describes a task. Write a response that appropriately completes the request. \n\n" +
      `${P}### Instruction:\n${P}{I}\n\n${P}### Response:\n${P}`,
  );
  assertEquals(
    buildPrompt({ ...rec, input: "{N}" }, "llm_adapters"),
    "Below is an instruction that describes a task, paired with an input that provides further context. Write a " +
      "response that appropriately completes the request.\n\n" +
      `${P}### Instruction:\n${P}{I}\n\n${P}### Input:\n${P}{N}\n\n${P}### Response:\n${P}`,
  );
});

Deno.test("compact: the markers without the preamble", () => {
  assertEquals(buildPrompt(REC, "compact"), `### Instruction:\n${REC.instruction}\n\n### Response:\n`);
  assertEquals(
    buildPrompt(WITH_INPUT, "compact"),
    `### Instruction:\n${REC.instruction}\n\n### Input:\nthe fox is red .\n\n### Response:\n`,
  );
  assertEquals(trainingParts(REC, "compact"), {
    prompt: `### Instruction:\n${REC.instruction}\n\n### Response:\n`,
    response: "the correct answer is true",
  });
});

Deno.test("extractAnswer behaves like LLM-Adapters' extract_answer", () => {
  const cases: [TaskName, string, string][] = [
    ["boolq", " the correct answer is false ", "false"],
    ["boolq", "True", ""], // case-sensitive, as their re.findall
    ["boolq", "it is false, not true", "false"], // first match wins
    ["piqa", "the correct answer is solution2", "solution2"],
    ["social_i_qa", "answer3 or answer1", "answer3"],
    ["ARC-Challenge", "the correct answer is answer5", "answer5"],
    ["openbookqa", "answer10", "answer1"], // no word boundary in their regex
    ["hellaswag", "ending4.", "ending4"],
    ["winogrande", "option1", "option1"],
    ["winogrande", "answer1", ""],
    ["ARC-Easy", "", ""],
  ];
  for (const [task, text, want] of cases) assertEquals(extractAnswer(task, text), want, `${task}: ${text}`);
});

Deno.test("answerWords: the record's offered words, else the task's regex words", () => {
  const arc3 = { instruction: "…\n\nAnswer1: a Answer2: b Answer3: c\n\nAnswer format: answer1/answer2/answer3" };
  assertEquals(answerWords("ARC-Easy", arc3), ["answer1", "answer2", "answer3"]);
  assertEquals(answerWords("ARC-Easy"), ["answer1", "answer2", "answer3", "answer4", "answer5"]);
  assertEquals(answerWords("boolq", REC), ["true", "false"]);
  assertEquals(answerWords("piqa", { instruction: "no format line" }), ["solution1", "solution2"]);
  assertEquals(answerWords("piqa", { instruction: "Answer format: answer1/answer2" }), ["solution1", "solution2"]);
  assertEquals(ANSWER_WORDS.hellaswag, ["ending1", "ending2", "ending3", "ending4"]);
});

Deno.test("answerFormatWords reads the real files' layouts", () => {
  const wino = "Please choose the correct answer to fill in the blank to complete the given sentence: Sarah was a " +
    "much better surgeon than Maria so _ always got the easier cases.\n\nOption1: Sarah Option2: Maria " +
    "Answer format: " +
    "option1/option2";
  assertEquals(answerFormatWords(wino), ["option1", "option2"]);
  assertEquals(answerFormatWords(REC.instruction), ["true", "false"]);
  assertEquals(answerFormatWords("Answer format:"), null);
  assertEquals(answerFormatWords("nothing"), null);
});

Deno.test("responseOf takes the text after ### Response:, in any case", () => {
  assertEquals(
    responseOf("### Instruction:\nq\n\n### Response:\n the correct answer is true"),
    "the correct answer is true",
  );
  assertEquals(responseOf("### response: answer2"), "answer2");
  assertEquals(responseOf(" answer2 "), "answer2");
});
