import { assertEquals } from "../testing/asserts.ts";
import { canonicalOptions, optionGroups } from "./canonical.ts";
import { COLOURS, DIETS, MATERIALS, SIZES } from "./lexicon.ts";

Deno.test("optionGroups: fixed groups in inventory order, the last topped up from the start", () => {
  assertEquals(optionGroups(COLOURS, 4), [["red", "blue", "green", "yellow"], ["black", "white", "brown", "grey"]]);
  assertEquals(optionGroups(SIZES, 5), [["tiny", "small", "medium", "big", "huge"]]);
  assertEquals(optionGroups(DIETS, 4), [["meat", "grass", "fish", "seeds"], ["fruit", "insects", "meat", "grass"]]);
  // lastAt moves the partial group's own values: ARC-e puts fruit and insects at positions 2 and 3.
  assertEquals(optionGroups(DIETS, 4, 1)[1], ["meat", "fruit", "insects", "grass"]);
  assertEquals(optionGroups(MATERIALS, 4, 1)[1], ["wood", "cloth", "stone", "plastic"]);
  assertEquals(optionGroups(SIZES, 4, 3)[1], ["tiny", "small", "medium", "huge"]);
  assertEquals(optionGroups(COLOURS, 5, 2)[1], ["red", "blue", "white", "brown", "grey"]);
  assertEquals(optionGroups(["a", "b"], 3), []);
});

Deno.test("canonicalOptions: every value answers in exactly one group at one index", () => {
  assertEquals(canonicalOptions(COLOURS, 4, "brown"), { options: ["black", "white", "brown", "grey"], index: 2 });
  assertEquals(canonicalOptions(DIETS, 4, "meat", 1), { options: ["meat", "grass", "fish", "seeds"], index: 0 });
  assertEquals(canonicalOptions(DIETS, 4, "insects", 1), { options: ["meat", "fruit", "insects", "grass"], index: 2 });
  assertEquals(canonicalOptions(COLOURS, 4, "pink"), null);
  for (const [inventory, k] of [[DIETS, 4], [MATERIALS, 4], [COLOURS, 5], [SIZES, 4], [MATERIALS, 3]] as const) {
    for (let lastAt = 0; lastAt < k; lastAt++) {
      const groups = optionGroups(inventory, k, lastAt);
      for (const v of inventory) {
        const c = canonicalOptions(inventory, k, v, lastAt)!;
        assertEquals(c.options[c.index], v);
        assertEquals(new Set(c.options).size, k);
        assertEquals(groups.filter((g) => g === c.options || g.join() === c.options.join()).length, 1);
      }
      // Each value is the answer of exactly one (group, index).
      const answers = inventory.map((v) => canonicalOptions(inventory, k, v, lastAt)!);
      assertEquals(new Set(answers.map((a) => `${a.options.join()}#${a.index}`)).size, inventory.length);
    }
  }
});
