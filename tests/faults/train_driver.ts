/**
 * A tiny training run with checkpoints, for checkpoint_test.ts: `deno run -A train_driver.ts <dir | ->`
 * trains a 2-layer toy Llama with AdaMoLE adapters (dropout on) for 8 updates, checkpointing every 2 into
 * <dir> (none for `-`), resuming from the newest checkpoint there, and prints {losses, resumedFrom} as JSON.
 */
import { initBackend } from "../../src/backend/backend.ts";
import { runMain } from "../../src/cli/cli.ts";
import { makeBatches } from "../../src/data/batch.ts";
import { BaseWeights } from "../../src/model/base.ts";
import { LlamaModel } from "../../src/model/llama.ts";
import { methodConfig } from "../../src/routers/registry.ts";
import { parseTrainConfig } from "../../src/train/config.ts";
import { train } from "../../src/train/trainer.ts";
import { Rng } from "../../src/util/rng.ts";
import { tinyConfig, toyExamples } from "../../src/testing/toy.ts";

await runMain(async () => {
  await initBackend("cpu");
  const dir = Deno.args[0] === "-" ? null : Deno.args[0];
  const ex = toyExamples(32, 7);
  const base = BaseWeights.random(tinyConfig(), new Rng(1), 0.3);
  const model = new LlamaModel(base, methodConfig("adamole", { nExperts: 4, dropout: 0.1 }), new Rng(2));
  const r = await train(model, { epoch: (e) => makeBatches(ex, 8, new Rng(7).fork(`epoch${e}`)) }, {
    config: parseTrainConfig({
      lr: 1e-2,
      batchSize: 8,
      logEvery: 1,
      maxSteps: 8,
      checkpointEvery: 2,
      keepCheckpoints: 3,
    }),
    seed: 7,
    runHash: "fault-driver",
    checkpointDir: dir,
  });
  console.log(JSON.stringify({ losses: r.losses, resumedFrom: r.resumedFrom }));
});
