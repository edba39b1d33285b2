/**
 * Adapter checkpoints: `adapter_model.safetensors` with PEFT-style tensor names plus
 * `adapter_config.json`. A plain LoRA is written exactly as PEFT writes one
 * (`base_model.model.<module>.lora_A.weight` [r, d_in], `lora_B.weight` [d_out, r], peft_type LORA), so PEFT
 * can load it onto the same base. MoE experts are `<module>.experts.<e>.lora_{A,B}.weight`, routers
 * `<module>.lora_router.*`, MoA's pieces `<layer>.adapter_type_router.*`, `<layer>.self_attn.prompt*`,
 * `<layer>.p_adapter.*`.
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import type { LoraBank } from "../adapters/lora.ts";
import { CheckpointError } from "../errors.ts";
import { parseMethodConfig } from "../routers/registry.ts";
import type { MethodConfig } from "../routers/registry.ts";
import { atomicWriteJson } from "../util/fs.ts";
import { type LlamaModel, PROJ_KIND } from "./llama.ts";
import { type HostTensor, readSafetensorsFile, writeSafetensorsFile } from "./safetensors.ts";

export const ADAPTER_WEIGHTS = "adapter_model.safetensors";
export const ADAPTER_CONFIG = "adapter_config.json";

const PREFIX = "base_model.model.";

/** How each stored tensor maps onto a model variable: the variable, and a slice/transpose if any. */
interface Slot {
  variable: tf.Variable;
  /** Expert index into a stacked bank, or null for the whole variable. */
  expert: number | null;
  /** Stored transposed relative to the variable's layout (lora_B: stored [d_out, r], held as Bᵀ [r, d_out]). */
  transpose: boolean;
}

function bankSlots(prefix: string, bank: LoraBank, out: Map<string, Slot>): void {
  const n = bank.nExperts;
  for (let e = 0; e < n; e++) {
    const at = n === 1 ? prefix : `${prefix}.experts.${e}`;
    out.set(`${at}.lora_A.weight`, { variable: bank.A, expert: n === 1 ? 0 : e, transpose: false });
    out.set(`${at}.lora_B.weight`, { variable: bank.Bt, expert: n === 1 ? 0 : e, transpose: true });
  }
}

/** Every stored tensor name of `model`'s adapters, with where it lives. */
export function adapterSlots(model: LlamaModel): Map<string, Slot> {
  const out = new Map<string, Slot>();
  const whole = (name: string, variable: tf.Variable) => out.set(name, { variable, expert: null, transpose: false });
  for (const b of model.blocks) {
    for (const p of Object.values(b.proj)) {
      const prefix = `${PREFIX}${p.name}`;
      if (p.bank) bankSlots(prefix, p.bank, out);
      for (const [k, v] of Object.entries(p.router?.params ?? {})) whole(`${prefix}.lora_router.${k}`, v);
    }
    if (b.moa) {
      const layer = `${PREFIX}model.layers.${b.index}`;
      for (const [k, v] of Object.entries(b.moa.router.params)) whole(`${layer}.adapter_type_router.${k}`, v);
      for (const [k, v] of Object.entries(b.moa.prompt?.params ?? {})) whole(`${layer}.self_attn.${k}`, v);
      for (const [k, v] of Object.entries(b.moa.padapter?.params ?? {})) whole(`${layer}.p_adapter.${k}`, v);
    }
  }
  return out;
}

async function slotValue(s: Slot): Promise<HostTensor> {
  const t = tf.tidy(() => {
    let v: tf.Tensor = s.variable;
    if (s.expert !== null) v = v.gather(s.expert);
    return s.transpose ? v.transpose() : v.clone();
  });
  const out = { shape: t.shape, data: (await t.data()) as Float32Array };
  t.dispose();
  return out;
}

/** The PEFT `adapter_config.json` for a model's method. */
export function adapterConfig(method: MethodConfig, baseModel: string): Record<string, unknown> {
  const common = { base_model_name_or_path: baseModel, task_type: "CAUSAL_LM", mole_lab: { method } };
  if (method.method === "lora") {
    return {
      ...common,
      peft_type: "LORA",
      r: method.rank,
      lora_alpha: method.alpha,
      lora_dropout: method.dropout,
      use_rslora: method.rsLora,
      target_modules: method.targets.map((t) => PROJ_KIND[t]),
      bias: "none",
    };
  }
  return { ...common, peft_type: "MOLE_LAB" };
}

/** Write the model's adapters to `dir` (atomically, file by file). */
export async function saveAdapter(dir: string, model: LlamaModel, baseModel = "mole-lab/embedded-base"): Promise<void> {
  if (!model.method) throw new CheckpointError("saveAdapter: the model has no adapters (method is null)");
  const tensors = new Map<string, HostTensor>();
  for (const [name, slot] of adapterSlots(model)) tensors.set(name, await slotValue(slot));
  await writeSafetensorsFile(join(dir, ADAPTER_WEIGHTS), tensors, { format: "pt" });
  await atomicWriteJson(join(dir, ADAPTER_CONFIG), adapterConfig(model.method, baseModel));
}

/** The method config stored in an adapter directory. */
export async function readAdapterMethod(dir: string): Promise<MethodConfig> {
  const path = join(dir, ADAPTER_CONFIG);
  let json: { mole_lab?: { method?: unknown } };
  try {
    json = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new CheckpointError(`${path}: cannot read adapter config (${(e as Error).message.split("\n")[0]})`);
  }
  if (!json?.mole_lab?.method) throw new CheckpointError(`${path}: no mole_lab.method; not a MoLE Lab adapter`);
  return parseMethodConfig(json.mole_lab.method, `${path}: method`);
}

/** Load adapter weights from `dir` into `model` (built with the same method); every name and shape must match. */
export async function loadAdapterInto(dir: string, model: LlamaModel): Promise<void> {
  const path = join(dir, ADAPTER_WEIGHTS);
  const { tensors } = await readSafetensorsFile(path);
  const slots = adapterSlots(model);
  for (const name of slots.keys()) {
    if (!tensors.has(name)) {
      throw new CheckpointError(`${path}: missing tensor ${name}; was it saved for another method?`);
    }
  }
  for (const name of tensors.keys()) {
    if (!slots.has(name)) {
      throw new CheckpointError(`${path}: unexpected tensor ${name}; was it saved for another method?`);
    }
  }
  // Group expert slices per variable, then assign each variable once.
  const byVar = new Map<tf.Variable, { slot: Slot; host: HostTensor }[]>();
  for (const [name, slot] of slots) {
    const list = byVar.get(slot.variable) ?? [];
    list.push({ slot, host: tensors.get(name)! });
    byVar.set(slot.variable, list);
  }
  for (const [variable, parts] of byVar) {
    const value = tf.tidy(() => {
      const pieces = parts.sort((a, b) => (a.slot.expert ?? 0) - (b.slot.expert ?? 0)).map(({ slot, host }) => {
        const t = tf.tensor(host.data, host.shape);
        return slot.transpose ? t.transpose() : t;
      });
      return parts[0].slot.expert === null ? pieces[0] : tf.stack(pieces);
    });
    if (!tf.util.arraysEqual(value.shape, variable.shape)) {
      const shape = value.shape;
      value.dispose();
      throw new CheckpointError(`${path}: tensor shape ${shape} does not fit ${variable.shape}; wrong base or rank?`);
    }
    variable.assign(value);
    value.dispose();
  }
}
