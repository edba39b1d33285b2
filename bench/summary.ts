/** The console summary of a bench run: ratios, tfjs vs torch, training steps, soak and the target verdicts. */
import { STEP_VARIANTS, stepMethodParts } from "./step.ts";
import type { BenchResults } from "./output.ts";
import { verdicts } from "./output.ts";
import { shapeKey } from "./presets.ts";
import {
  dispatchBreakEven,
  dispatchRows,
  overLora,
  overTorch,
  sparseOverDense,
  summarizeRatios,
  torchId,
  verdictText,
} from "./ratios.ts";

/** The console summary: ratios over LoRA, sparse vs dense, tfjs vs torch, steps, soak, target verdicts. */
export function summaryLines(r: BenchResults): string[] {
  const lines: string[] = [];
  const pad = (s: string | number, n: number) => String(s).padStart(n);
  lines.push("", "Layer cost over plain LoRA at equal total rank (geomean [min–max] over shapes):");
  for (const s of summarizeRatios(overLora(r.layer))) {
    lines.push(
      `  ${s.backend.padEnd(7)} ${s.method.padEnd(11)} ${s.geomean.toFixed(2)}× [${s.min.toFixed(2)}–${
        s.max.toFixed(2)
      }] over ${s.n} shape${s.n > 1 ? "s" : ""}`,
    );
  }
  const dense = sparseOverDense(r.layer);
  if (dense.length) {
    lines.push("", "Sparse (top-k, masked) over dense (soft) routing, same N and rank:");
    for (const x of dense) lines.push(`  ${x.backend.padEnd(7)} ${shapeKey(x).padEnd(28)} ${x.ratio.toFixed(2)}×`);
    const torch = r.torchCpu ? dispatchRows(r.sparsity, r.torchCpu.timings) : [];
    if (torch.length) {
      lines.push("  torch CPU, ms: N   masked top-k   dispatch top-k   soft (dense)");
      for (const t of torch) {
        lines.push(
          `  ${pad(t.experts, 16)} ${pad(t.masked.toFixed(2), 14)} ${pad(t.dispatch.toFixed(2), 16)} ${
            pad(t.soft.toFixed(2), 14)
          }`,
        );
      }
      const n = dispatchBreakEven(torch);
      lines.push(
        n === null
          ? "  sparse dispatch never beat dense routing over the N measured"
          : `  sparse dispatch beats dense routing from N = ${n} on (torch CPU)`,
      );
    }
    lines.push("  ours compute every expert and mask with g = 0, so sparsity costs routing time and saves none.");
  }
  for (const run of [r.torchCpu, r.torchCuda]) {
    if (!run) continue;
    const rows = run.device === "cuda" ? r.layer.filter((x) => x.backend === "webgpu") : r.layer;
    const ratios = overTorch(rows, run.timings);
    const shown = rows.map((x, i) => ({ x, ratio: ratios[i] })).filter((y) => Number.isFinite(y.ratio));
    if (!shown.length) continue;
    lines.push("", `tfjs vs PyTorch ${run.version} on ${run.deviceInfo} (fwd+bwd ms):`);
    lines.push(
      `  ${"backend".padEnd(7)} ${"method".padEnd(11)} ${"shape".padEnd(28)} ${pad("tfjs", 9)} ${
        pad("torch", 9)
      } ratio`,
    );
    for (const { x, ratio } of shown) {
      const t = run.timings.get(torchId(x))!;
      lines.push(
        `  ${x.backend.padEnd(7)} ${x.method.padEnd(11)} ${shapeKey(x).padEnd(28)} ${
          pad(x.timing.median.toFixed(2), 9)
        } ${pad(t.median.toFixed(2), 9)} ${ratio.toFixed(2)}×`,
      );
    }
  }
  if (r.torchNote) lines.push("", r.torchNote);

  for (const s of r.steps) {
    const what = s.model === "embedded" ? "embedded-default model" : "real-format shape (vocabulary 32,001)";
    lines.push("", `Training step, ${what}, ${s.backend}, batch ${s.shape.batch}×${s.shape.seqLen}:`);
    const lora = s.results.find((x) => x.method === "lora");
    for (const x of s.results) {
      const tps = x.tokensPerStep / (x.timing.median / 1000);
      const ratio = lora ? ` ${(x.timing.median / lora.timing.median).toFixed(2)}× LoRA` : "";
      const gflops = x.flops / (x.timing.median * 1e6);
      const peak = r.sgemmPeakGflops ? ` (${((100 * gflops) / r.sgemmPeakGflops).toFixed(1)} % of sgemm)` : "";
      const torch = x.torch
        ? `; torch ${x.torch.median.toFixed(1)} ms → ${(x.timing.median / x.torch.median).toFixed(2)}× torch`
        : "";
      lines.push(
        `  ${x.method.padEnd(11)} ${pad(x.timing.median.toFixed(1), 8)} ms ${
          pad(tps.toFixed(0), 7)
        } tokens/s${ratio}, ` +
          `${gflops.toFixed(1)} GFLOP/s${peak}${torch}`,
      );
    }
  }
  for (const s of r.steps.filter((x) => x.backend === "blas")) { // the variants switch blas's kernels
    for (const [name, variant] of Object.entries(STEP_VARIANTS)) {
      const pairs = s.results.filter((x) => stepMethodParts(x.method)[1] === name).flatMap((off) => {
        const on = s.results.find((x) => x.method === stepMethodParts(off.method)[0]);
        return on ? [`${on.method} ${(off.timing.median / on.timing.median).toFixed(2)}×`] : [];
      });
      if (pairs.length) lines.push("", `${variant.what}, same rounds (${s.backend}, ${s.model}): ${pairs.join(", ")}`);
    }
  }
  if (r.soak) {
    const first = r.soak.samples[0];
    const last = r.soak.samples.at(-1)!;
    lines.push(
      "",
      `Soak (${r.soak.backend}, ${r.soak.method}, batch ${r.soak.shape.batch}×${r.soak.shape.seqLen}, ${
        r.soak.msPerStep.toFixed(1)
      } ms/step): numTensors ${first.numTensors} → ${last.numTensors}, numBytes ${first.numBytes} → ${last.numBytes} ` +
        `(steps ${first.step} → ${last.step}); RSS ${first.rssMiB.toFixed(0)} → ${last.rssMiB.toFixed(0)} MiB`,
    );
  }
  for (const l of r.load) {
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
    lines.push(
      `${l === r.load[0] ? "\n" : ""}Load (${l.dtype}, ${l.layout}, ${l.shards} file${l.shards > 1 ? "s" : ""}, ${
        mib(l.fileBytes)
      }): peak ${mib(l.peakBytes)} = ${l.peakRatio.toFixed(2)}× the ${mib(l.f32Bytes)} of float32 parameters, ${
        l.seconds.toFixed(1)
      } s`,
    );
  }
  for (const b of r.skipped) lines.push(`skipped backend ${b.name}: ${b.why}`);
  lines.push("", "Targets:");
  for (const v of verdicts(r)) lines.push(`  ${v.target}: ${v.met === null ? "" : `${v.value} — `}${verdictText(v)}`);
  return lines;
}
