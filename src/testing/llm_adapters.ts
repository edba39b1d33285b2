import type { TaskName } from "../data/types.ts";

/** One record per task in LLM-Adapters' layout (abridged from their dataset/<task>/test.json). */
export const LLM_ADAPTERS_RECORDS: Record<TaskName, { instruction: string; answer: string }> = {
  boolq: {
    instruction: "Please answer the following question with true or false, question: is house tax and property tax " +
      "are same?\n\nAnswer format: true/false",
    answer: "true",
  },
  piqa: {
    instruction: "Please choose the correct solution to the question: Retain study notes in brain.\n\nSolution1: Go " +
      "over notes one week before test.\n\nSolution2: Go over notes one day before test.\n\nAnswer format: " +
      "solution1/solution2",
    answer: "solution2",
  },
  social_i_qa: {
    instruction: "Please choose the correct answer to the question: Carson relocated somewhere new. How would you " +
      "describe Carson?\n\nAnswer1: mobile Answer2: anxious Answer3: lonely\n\nAnswer format: answer1/answer2/answer3",
    answer: "answer1",
  },
  hellaswag: {
    instruction:
      "Please choose the correct ending to complete the given sentence: Playing drums: People are standing " +
      "behind large drums. A man\n\nEnding1: is playing a bag pipe. Ending2: starts to play around the drums. " +
      "Ending3: begins playing a drum set. Ending4: begins playing the drums.\n\nAnswer format: " +
      "ending1/ending2/ending3/ending4",
    answer: "ending4",
  },
  winogrande: {
    instruction: "Please choose the correct answer to fill in the blank to complete the given sentence: Sarah was a " +
      "much better surgeon than Maria so _ always got the easier cases.\n\nOption1: Sarah Option2: Maria Answer " +
      "format: option1/option2",
    answer: "option2",
  },
  "ARC-Easy": {
    instruction: "Please choose the correct answer to the question: Which piece of safety equipment is used to keep " +
      "mold spores from entering the respiratory system?\n\nAnswer1: safety goggles Answer2: breathing mask " +
      "Answer3: rubber gloves Answer4: lead apron\n\nAnswer format: answer1/answer2/answer3/answer4",
    answer: "answer2",
  },
  "ARC-Challenge": {
    instruction: "Please choose the correct answer to the question: Which is a renewable resource?\n\nAnswer1: coal " +
      "Answer2: oil Answer3: wind Answer4: gas Answer5: uranium\n\nAnswer format: " +
      "answer1/answer2/answer3/answer4/answer5",
    answer: "answer3",
  },
  openbookqa: {
    instruction: "Please choose the correct answer to the question: Predators eat\n\nAnswer1: lions Answer2: humans " +
      "Answer3: bunnies Answer4: grass\n\nAnswer format: answer1/answer2/answer3/answer4",
    answer: "answer3",
  },
};

/** A record of `task` in LLM-Adapters' JSON layout (instruction, input, output, answer). */
export function llmAdaptersRecord(task: TaskName, over: Record<string, unknown> = {}): Record<string, unknown> {
  const r = LLM_ADAPTERS_RECORDS[task];
  return {
    instruction: r.instruction,
    input: "",
    output: `the correct answer is ${r.answer}`,
    answer: r.answer,
    ...over,
  };
}
