import { ConfigError } from "../errors.ts";
import { assertEquals, assertNotEquals, assertRejects } from "../testing/asserts.ts";
import { resolveCell } from "./spec.ts";

const lora = { method: "lora", rank: 4 };
const cell = (evalCfg: Record<string, unknown>, data: Record<string, unknown> = { kind: "embedded" }) =>
  resolveCell({ label: "x", group: {}, config: { method: lora, seed: 0, eval: evalCfg, data } }, "cell");

Deno.test("eval.curve: absent by default (the hash of a config without it is unchanged); {} takes the defaults", async () => {
  const none = await cell({});
  assertEquals(none.config.eval.curve, undefined);
  assertEquals((await cell({ curve: undefined })).hash, none.hash);
  const on = await cell({ curve: {} });
  assertEquals(on.config.eval.curve, { every: 25, limitPerTask: 25 });
  assertNotEquals(on.hash, none.hash);
  assertEquals((await cell({ curve: { every: 0, limitPerTask: null } })).config.eval.curve, {
    every: 0,
    limitPerTask: null,
  });
});

Deno.test("eval.curve: unknown keys, a negative step and the validation-less LLM-Adapters data are refused", async () => {
  await assertRejects(() => cell({ curve: { every: 5, evry: 5 } }), ConfigError, "evry");
  await assertRejects(() => cell({ curve: { every: -1 } }), ConfigError, "cell.eval.curve.every");
  await assertRejects(() => cell({ curve: { limitPerTask: 0 } }), ConfigError, "cell.eval.curve.limitPerTask");
  await assertRejects(
    () => cell({ curve: { every: 10 } }, { kind: "commonsense", dir: "/data" }),
    ConfigError,
    "cell.eval.curve: the convergence curve needs a validation split",
  );
  // off (every 0) is fine anywhere
  await cell({ curve: { every: 0 } }, { kind: "commonsense", dir: "/data" });
});
