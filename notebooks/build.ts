/**
 * Writes the notebooks from the cell lists below (run `deno run -A notebooks/build.ts` after editing), so
 * every notebook has the same Deno kernel spec, cell ids and "display" tags that `deno task notebooks`
 * checks: a code cell tagged "display" must produce output.
 */
import { join } from "node:path";

type Cell = { md: string } | { code: string; display?: boolean };

function notebook(cells: Cell[]) {
  return {
    cells: cells.map((c, i) => {
      const id = `cell-${String(i).padStart(2, "0")}`;
      if ("md" in c) return { cell_type: "markdown", id, metadata: {}, source: lines(c.md) };
      return {
        cell_type: "code",
        id,
        metadata: c.display ? { tags: ["display"] } : {},
        execution_count: null,
        outputs: [],
        source: lines(c.code),
      };
    }),
    metadata: {
      kernelspec: { name: "deno", display_name: "Deno", language: "typescript" },
      language_info: { name: "typescript", file_extension: ".ts", mimetype: "text/x.typescript" },
    },
    nbformat: 4,
    nbformat_minor: 5,
  };
}

function lines(text: string): string[] {
  const t = text.trim().split("\n");
  return t.map((l, i) => (i < t.length - 1 ? l + "\n" : l));
}

const SETUP = `import * as ml from "../mod.ts";
import * as aq from "arquero";
import { QUICK_RECIPE } from "../experiments/common.ts";
// MOLE_QUICK=1 (CI) uses the tiny base recipe; otherwise the embedded default (pretrained once, then cached).
const quick = Deno.env.get("MOLE_QUICK") === "1";
// The kernel runs in notebooks/: share the repository's base-model cache with \`deno task experiment\`.
if (!Deno.env.get("MOLE_CACHE_DIR")) Deno.env.set("MOLE_CACHE_DIR", "../.cache");
const backend = await ml.initBackend("auto");
ml.describeBackend(backend);`;

const quickstart: Cell[] = [
  {
    md: `# MoLE Lab quickstart

Build the tiny Llama base, attach every routing method, train each for a few steps on the embedded
commonsense-style suite, and look at how one batch is routed. Everything runs on the CPU; \`--backend\`
choices are the same as on the command line (\`auto\` picks BLAS here).`,
  },
  { code: SETUP, display: true },
  { md: "## The base model\n\nPretrained once on the embedded corpus and cached on disk under the hash of its recipe." },
  {
    code: `const prepared = await ml.prepareBase(quick ? QUICK_RECIPE : {}, { log: console.log });
const { base, tokenizer, suite } = prepared;
({ vocabulary: tokenizer.vocabSize, layers: base.cfg.nLayers, width: base.cfg.dModel, baseParameters: base.numParams(),
   pretrainSeconds: +(prepared.pretrainMs / 1000).toFixed(1), reusedFromCache: prepared.reused })`,
    display: true,
  },
  {
    md: `## Every routing method, a few training steps each

The same data, seed and step count for each; the table shows trainable parameters and the loss before and after.`,
  },
  {
    code: `const train = ml.mixTrain(suite.tasks, new ml.Rng(0));
const { examples } = ml.encodeExamples(tokenizer, train, { template: "compact", maxLen: 96 });
const data = { epoch: (e: number) => ml.makeBatches(examples, 8, new ml.Rng(0).fork(\`epoch\${e}\`), { padToMultipleOf: 8 }) };
const steps = quick ? 4 : 30;
const models: Record<string, ml.LlamaModel> = {};
const rows = [];
for (const name of ml.METHOD_NAMES) {
  const model = new ml.LlamaModel(base, ml.methodConfig(name, name === "mola" ? { experts: [2, 4] } : {}), new ml.Rng(1));
  const r = await ml.train(model, data, { config: ml.parseTrainConfig({ lr: 2e-3, maxSteps: steps, logEvery: steps }), seed: 0, runHash: name });
  models[name] = model;
  rows.push({ method: name, trainable: model.numTrainable(), firstLoss: +r.losses[0].toFixed(3), lastLoss: +r.finalLoss.toFixed(3),
              seconds: +(r.elapsedMs / 1000).toFixed(2) });
}
ml.displayTable(aq.from(rows))`,
    display: true,
  },
  {
    md: `## How one batch is routed

Token × expert routing weights of AdaMoLE's first query projection on one training example (weights are
\`(p − τ)\` renormalised over the experts that clear the token's threshold), and Soft MoA's per-block
weights over its adapter types.`,
  },
  {
    code: `async function routing(model: ml.LlamaModel, site: string) {
  const ids = [tokenizer.bosId!, ...tokenizer.encode(ml.buildPrompt(train[0], "compact"))].slice(-24);
  const ctx = ml.forwardContext({ routings: new Map() });
  const tf = await import("@tensorflow/tfjs");
  tf.tidy(() => { model.logits(tf.tensor2d([ids], undefined, "int32"), ctx); });
  const r = ctx.routings!.get(site)!;
  const g = await r.g.array() as number[][];
  for (const [, x] of ctx.routings!) for (const t of [x.g, x.p, x.active, x.threshold, x.entropy]) t?.dispose();
  return ids.flatMap((id, i) => g[i].map((w, e) => ({ token: \`\${String(i).padStart(2, "0")} \${tokenizer.decode([id]) || "<s>"}\`, expert: \`e\${e}\`, weight: w })));
}
const ada = await routing(models["adamole"], "model.layers.0.self_attn.q_proj");
await ml.show(await ml.displayChart(ml.heatmap({ data: ada, x: "expert", y: "token", value: "weight", valueTitle: "g",
  title: "AdaMoLE routing weights, layer 0 q_proj", xTitle: "expert", yTitle: "token", ySort: null, domain: [0, 1] })));
const moa = await routing(models["moa-soft"], "model.layers.0.adapter_type_router");
const types = ml.resolveTypes("soft-readme");
await ml.displayChart(ml.heatmap({ data: moa.map((d) => ({ ...d, expert: types[Number(d.expert.slice(1))] })), x: "expert", y: "token",
  value: "weight", valueTitle: "σ", title: "Soft MoA adapter-type weights, block 0", xTitle: "adapter type", yTitle: "token",
  xSort: types, ySort: null, domain: [0, 1] }))`,
    display: true,
  },
];

function studyNotebook(name: string, heading: string): Cell[] {
  return [
    { md: `# ${heading}\n\nLoads \`results/${name}/\` when a run is there; otherwise runs the study's \`--quick\` grid.` },
    { code: SETUP, display: true },
    {
      code: `const study = ml.STUDIES[${JSON.stringify(name)}];
let rows = await ml.readRows(\`../results/\${study.name}/cells.jsonl\`);
if (rows.length === 0) {
  const out = await Deno.makeTempDir();
  await ml.runStudy(study, { quick: true, seeds: [0], data: null, base: null, out, shard: null, reportOnly: false });
  rows = await ml.readRows(\`\${out}/\${study.name}/cells.jsonl\`);
}
ml.markdown(\`**\${study.title}** — \${study.question}\\n\\n\${rows.length} runs over \${new Set(rows.map((r) => r.seed)).size} seed(s), protocol(s) \${ml.protocolsOf(rows).join(", ")}, backend \${rows[0].env.backend}.\`)`,
      display: true,
    },
    { md: "## Tables" },
    {
      code:
        "for (const t of ml.studyTables(study, rows)) {\n  await ml.show(ml.markdown(`**${t.caption}**`));\n  await ml.show(ml.displayTable(t.display));\n}",
      display: true,
    },
    { md: "## Charts" },
    { code: "for (const c of ml.studyCharts(study, rows)) await ml.show(await ml.displayChart(c.spec));", display: true },
    { md: "## What the numbers show\n\nThe papers' qualitative claims, checked on these runs: each verdict follows from a paired bootstrap 95 % CI over seeds and test items (holds if the CI excludes 0 in the claimed direction, contradicted if it excludes 0 the other way, else undecided):" },
    {
      code: `const claims = study.papers?.claims(rows) ?? [];
ml.markdown(["| claim | source | verdict (95 % CI) | evidence: Δ [95 % CI] |", "| --- | --- | --- | --- |",
  ...claims.map((c) => \`| \${c.claim} | \${c.source} | \${ml.claimVerdict(c)} | \${c.evidence} |\`)].join("\\n"))`,
      display: true,
    },
  ];
}

const NOTEBOOKS: Record<string, Cell[]> = {
  quickstart,
  compare: studyNotebook("compare", "Baseline comparison: LoRA vs MoE-LoRA methods vs MoA"),
  "adamole-threshold": studyNotebook("adamole-threshold", "AdaMoLE threshold sensitivity"),
  "dynmole-q": studyNotebook("dynmole-q", "DynMoLE: entropy order q and ablations"),
  "moa-sparsity": studyNotebook("moa-sparsity", "MoA: soft vs sparse"),
};

const dir = new URL(".", import.meta.url).pathname;
for (const [name, cells] of Object.entries(NOTEBOOKS)) {
  await Deno.writeTextFile(join(dir, `${name}.ipynb`), JSON.stringify(notebook(cells), null, 1) + "\n");
  console.log(`wrote notebooks/${name}.ipynb`);
}
