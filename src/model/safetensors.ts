/**
 * The safetensors format (https://github.com/huggingface/safetensors), read and written without tfjs:
 *
 *   [8 bytes: header length N, little-endian u64][N bytes: UTF-8 JSON header, space-padded][data buffer]
 *   header = { "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, "__metadata__": {..} }
 *
 * Offsets are relative to the data buffer, which the tensors must tile exactly (no holes, no overlaps).
 * F32, F16, BF16 and F64 tensors load as Float32Array; we write F32, F16 or BF16. Also Hugging Face checkpoint
 * directories: one `model.safetensors`, or shards listed by `model.safetensors.index.json`.
 */
import { isAbsolute, join, normalize } from "node:path";
import { CheckpointError } from "../errors.ts";
import { atomicWrite, atomicWriteJson, exists } from "../util/fs.ts";

/** A tensor in host memory: row-major float32 values, and the dtype it was stored in (when read from a file). */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
  dtype?: FloatDtype;
}

/** Bytes per element of the dtypes we can load. */
export const DTYPE_BYTES = { F64: 8, F32: 4, F16: 2, BF16: 2 } as const;
export type FloatDtype = keyof typeof DTYPE_BYTES;

export const SINGLE_FILE = "model.safetensors";
export const INDEX_FILE = "model.safetensors.index.json";
const SHARD_RE = /^model-\d{5}-of-\d{5}\.safetensors$/;
const HOST_LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
const REDOWNLOAD = "re-save or re-download it";

interface HeaderEntry {
  name: string;
  dtype: FloatDtype;
  shape: number[];
  begin: number;
  end: number;
}

/** Number of elements of `shape` (1 for a scalar). */
export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

// ---------------------------------------------------------------------------------------------------------
// Reading

/** Decode a safetensors file's bytes; every defect is a one-line CheckpointError naming `source`. */
export function parseSafetensors(
  bytes: Uint8Array,
  source: string,
): { tensors: Map<string, HostTensor>; metadata: Record<string, string> } {
  const fail = failFor(source);
  const dataStart = dataStartOf(bytes, bytes.length, fail);
  const { entries, metadata } = checkedLayout(bytes.subarray(8, dataStart), bytes.length - dataStart, fail);
  const tensors = new Map<string, HostTensor>();
  for (const e of entries) {
    const raw = bytes.subarray(dataStart + e.begin, dataStart + e.end);
    tensors.set(e.name, { shape: e.shape, data: decodeFloats(raw, e.dtype), dtype: e.dtype });
  }
  return { tensors, metadata };
}

const failFor = (source: string) => (what: string): never => {
  throw new CheckpointError(`${source}: ${what}`);
};

/** Where the data buffer starts, from the file's first 8 bytes (the header length) and its total length. */
function dataStartOf(first: Uint8Array, length: number, fail: (what: string) => never): number {
  if (length < 8) fail(`only ${length} bytes, too short for a safetensors file; ${REDOWNLOAD}`);
  const n = new DataView(first.buffer, first.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(length - 8)) {
    fail(
      `truncated or not safetensors: the header length ${n} exceeds the ${length - 8} bytes that follow; ` +
        REDOWNLOAD,
    );
  }
  return 8 + Number(n);
}

/** The header's tensors, checked to tile a data buffer of exactly `held` bytes. */
function checkedLayout(
  header: Uint8Array,
  held: number,
  fail: (what: string) => never,
): { entries: HeaderEntry[]; metadata: Record<string, string> } {
  const layout = parseHeader(header, fail);
  const described = checkTiling(layout.entries, fail);
  if (described > held) {
    fail(`truncated: the header describes ${described} data bytes but the file holds ${held}; ${REDOWNLOAD}`);
  }
  if (described < held) {
    fail(
      `${held - described} trailing bytes after the last tensor (the header describes ${described} of ${held}); ` +
        REDOWNLOAD,
    );
  }
  return layout;
}

function parseHeader(
  raw: Uint8Array,
  fail: (what: string) => never,
): { entries: HeaderEntry[]; metadata: Record<string, string> } {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
  } catch (e) {
    fail(`the header is not valid UTF-8 JSON (${(e as Error).message}); the file is corrupt, ${REDOWNLOAD}`);
  }
  if (!isObject(header)) fail(`the header is not a JSON object; the file is corrupt, ${REDOWNLOAD}`);
  const entries: HeaderEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      const ok = isObject(value) && Object.values(value).every((v) => typeof v === "string");
      if (!ok) fail(`"__metadata__" must map strings to strings; ${REDOWNLOAD}`);
      metadata = value as Record<string, string>;
    } else {
      entries.push(parseEntry(name, value, fail));
    }
  }
  return { entries, metadata };
}

function parseEntry(name: string, value: unknown, fail: (what: string) => never): HeaderEntry {
  const where = `tensor '${name}'`;
  if (!isObject(value)) fail(`${where}: the header entry is not an object; ${REDOWNLOAD}`);
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (dtype === undefined || shape === undefined || offsets === undefined) {
    fail(`${where}: the header entry needs dtype, shape and data_offsets; ${REDOWNLOAD}`);
  }
  if (typeof dtype !== "string" || !Object.hasOwn(DTYPE_BYTES, dtype)) {
    fail(
      `${where} has dtype ${JSON.stringify(dtype)}, which cannot be loaded (supported: F32, F16, BF16, F64); ` +
        "convert the checkpoint to a float dtype",
    );
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    fail(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers; ${REDOWNLOAD}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
    fail(`${where}: data_offsets ${JSON.stringify(offsets)} is not [begin, end] with 0 <= begin <= end; ${REDOWNLOAD}`);
  }
  const [begin, end] = offsets as number[];
  const size = numel(shape as number[]) * DTYPE_BYTES[dtype as FloatDtype];
  if (size !== end - begin) {
    fail(
      `${where} (${dtype}, shape [${shape}]) needs ${size} bytes but data_offsets [${begin}, ${end}] ` +
        `span ${end - begin}; the header is corrupt, ${REDOWNLOAD}`,
    );
  }
  return { name, dtype: dtype as FloatDtype, shape: shape as number[], begin, end };
}

/** Check the tensors tile [0, total) exactly; returns total. */
function checkTiling(entries: HeaderEntry[], fail: (what: string) => never): number {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let last: HeaderEntry | null = null;
  for (const e of sorted) {
    if (e.begin < covered) {
      fail(
        `tensors '${last!.name}' and '${e.name}' overlap in the data buffer (bytes ${e.begin}..${covered}); ` +
          REDOWNLOAD,
      );
    }
    if (e.begin > covered) {
      fail(`data bytes ${covered}..${e.begin} belong to no tensor (a hole before '${e.name}'); ${REDOWNLOAD}`);
    }
    covered = e.end;
    last = e;
  }
  return covered;
}

function decodeFloats(raw: Uint8Array, dtype: FloatDtype): Float32Array {
  if (dtype === "F32" && HOST_LITTLE_ENDIAN) return new Float32Array(raw.slice().buffer); // aligned copy
  const n = raw.length / DTYPE_BYTES[dtype];
  const out = new Float32Array(n);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  switch (dtype) {
    case "F32":
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
      break;
    case "F64":
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
      break;
    case "BF16": {
      const bits = new Uint32Array(out.buffer); // bf16 is the upper half of an f32
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      break;
    }
    case "F16": {
      const table = f16Table();
      for (let i = 0; i < n; i++) out[i] = table[view.getUint16(2 * i, true)];
      break;
    }
  }
  return out;
}

let F16_TABLE: Float32Array | null = null;

/** All 65536 IEEE half-precision values as float32. */
function f16Table(): Float32Array {
  if (F16_TABLE) return F16_TABLE;
  F16_TABLE = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) F16_TABLE[h] = f16ToNumber(h);
  return F16_TABLE;
}

/** Scratch for binary16 conversions through DataView's float16 accessors (ES2025). */
const F16_VIEW = new DataView(new ArrayBuffer(2));

/** One IEEE 754 binary16 bit pattern as a number: sign, 5 exponent bits (bias 15), 10 mantissa bits. */
export function f16ToNumber(h: number): number {
  F16_VIEW.setUint16(0, h, true);
  return F16_VIEW.getFloat16(0, true);
}

// ---------------------------------------------------------------------------------------------------------
// Writing

/** The dtypes we write: a tensor keeps its source dtype (F64 is written as F32) unless told otherwise. */
export type WriteDtype = "F32" | "F16" | "BF16";

/** The dtype `t` is written in: `dtype` when given, else its source dtype (F64 → F32), else F32. */
export function writeDtype(t: HostTensor, dtype?: WriteDtype): WriteDtype {
  if (dtype) return dtype;
  return t.dtype === "F16" || t.dtype === "BF16" ? t.dtype : "F32";
}

/**
 * Encode tensors as a safetensors file, names sorted, header space-padded to 8 bytes; each tensor in
 * `writeDtype(t, dtype)` (BF16 and F16 round to nearest even, as torch's conversions do).
 */
export function serializeSafetensors(
  tensors: Map<string, HostTensor> | Record<string, HostTensor>,
  metadata?: Record<string, string>,
  dtype?: WriteDtype,
): Uint8Array {
  const map = tensors instanceof Map ? tensors : new Map(Object.entries(tensors));
  const names = [...map.keys()].sort();
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = map.get(name)!;
    if (name === "__metadata__") throw new CheckpointError(`"__metadata__" is reserved and cannot name a tensor`);
    if (t.data.length !== numel(t.shape)) {
      throw new CheckpointError(
        `tensor '${name}': shape [${t.shape}] holds ${numel(t.shape)} values but its data has ${t.data.length}`,
      );
    }
    const dt = writeDtype(t, dtype);
    const size = DTYPE_BYTES[dt] * t.data.length;
    header[name] = { dtype: dt, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (utf8Length(json) % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const name of names) {
    const t = map.get(name)!;
    at = encodeFloats(t.data, writeDtype(t, dtype), out, view, at);
  }
  return out;
}

/** Write `data` at byte `at` of `out` in `dtype`, little-endian; returns the next offset. */
function encodeFloats(data: Float32Array, dtype: WriteDtype, out: Uint8Array, view: DataView, at: number): number {
  if (dtype === "F32") {
    if (HOST_LITTLE_ENDIAN) out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    else for (let i = 0; i < data.length; i++) view.setFloat32(at + 4 * i, data[i], true);
    return at + 4 * data.length;
  }
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length); // the float32 bit patterns, no copy
  for (let i = 0; i < data.length; i++) {
    view.setUint16(at + 2 * i, dtype === "BF16" ? f32BitsToBf16(bits[i]) : numberToF16(data[i]), true);
  }
  return at + 2 * data.length;
}

/** A float32 bit pattern rounded to bfloat16 (nearest, ties to even; NaN stays a quiet NaN). */
export function f32BitsToBf16(bits: number): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff; // NaN
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** A number rounded to IEEE binary16 (nearest, ties to even; overflow to ±Infinity, underflow to subnormals or 0). */
export function numberToF16(x: number): number {
  F16_VIEW.setFloat16(0, x, true);
  return F16_VIEW.getUint16(0, true);
}

// ---------------------------------------------------------------------------------------------------------
// Files and checkpoint directories

/**
 * Read and decode one safetensors file, streaming: the header first, then each tensor straight into its
 * float32 array (F32) or through one reused scratch buffer (BF16/F16/F64) — so the peak is the decoded
 * tensors plus the largest stored tensor, never the whole file twice. Errors (a missing file too) are
 * CheckpointErrors naming `path`.
 */
export async function readSafetensorsFile(
  path: string,
): Promise<{ tensors: Map<string, HostTensor>; metadata: Record<string, string> }> {
  const fail = failFor(path);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new CheckpointError(`${path}: no such file; check the path`);
    throw new CheckpointError(`${path}: cannot read (${(e as Error).message}); check the path and permissions`);
  }
  try {
    const length = (await file.stat()).size;
    const first = new Uint8Array(Math.min(8, length));
    await readAt(file, 0, first, fail);
    const dataStart = dataStartOf(first, length, fail);
    const header = new Uint8Array(dataStart - 8);
    await readAt(file, 8, header, fail);
    const { entries, metadata } = checkedLayout(header, length - dataStart, fail);
    const sorted = [...entries].sort((a, b) => a.begin - b.begin); // sequential reads
    const converted = sorted.filter((e) => e.dtype !== "F32" || !HOST_LITTLE_ENDIAN);
    const scratch = new Uint8Array(Math.max(0, ...converted.map((e) => e.end - e.begin)));
    const decoded = new Map<string, Float32Array>();
    for (const e of sorted) {
      if (e.dtype === "F32" && HOST_LITTLE_ENDIAN) {
        const data = new Float32Array((e.end - e.begin) / 4);
        await readAt(file, dataStart + e.begin, new Uint8Array(data.buffer), fail);
        decoded.set(e.name, data);
      } else {
        const raw = scratch.subarray(0, e.end - e.begin);
        await readAt(file, dataStart + e.begin, raw, fail);
        decoded.set(e.name, decodeFloats(raw, e.dtype));
      }
    }
    const tensors = new Map<string, HostTensor>(); // in header order, as parseSafetensors returns them
    for (const e of entries) tensors.set(e.name, { shape: e.shape, data: decoded.get(e.name)!, dtype: e.dtype });
    return { tensors, metadata };
  } finally {
    file.close();
  }
}

/** Fill `into` from byte `offset` of `file` (reads may return short). */
async function readAt(file: Deno.FsFile, offset: number, into: Uint8Array, fail: (what: string) => never) {
  await file.seek(offset, Deno.SeekMode.Start);
  let done = 0;
  while (done < into.length) {
    const n = await file.read(into.subarray(done));
    if (n === null) {
      fail(`the file ended at byte ${offset + done} while reading; it changed or is truncated, ${REDOWNLOAD}`);
    }
    done += n!;
  }
}

/** Atomically write one safetensors file. */
export function writeSafetensorsFile(
  path: string,
  tensors: Map<string, HostTensor> | Record<string, HostTensor>,
  metadata?: Record<string, string>,
  dtype?: WriteDtype,
): Promise<void> {
  return atomicWrite(path, serializeSafetensors(tensors, metadata, dtype));
}

/** All tensors of a Hugging Face checkpoint directory (sharded with an index, or one model.safetensors). */
export async function loadCheckpointTensors(dir: string): Promise<Map<string, HostTensor>> {
  const indexPath = join(dir, INDEX_FILE);
  if (await exists(indexPath)) return await loadSharded(dir, indexPath);
  const single = join(dir, SINGLE_FILE);
  if (await exists(single)) return (await readSafetensorsFile(single)).tensors;
  throw new CheckpointError(
    `no ${SINGLE_FILE} or ${INDEX_FILE} in ${dir}; point at a Hugging Face checkpoint directory`,
  );
}

async function loadSharded(dir: string, indexPath: string): Promise<Map<string, HostTensor>> {
  const weightMap = await readWeightMap(indexPath);
  const byShard = new Map<string, string[]>();
  for (const [name, file] of Object.entries(weightMap)) {
    if (!byShard.has(file)) byShard.set(file, []);
    byShard.get(file)!.push(name);
  }
  const out = new Map<string, HostTensor>();
  for (const [file, names] of byShard) {
    const path = join(dir, file);
    if (!(await exists(path))) {
      throw new CheckpointError(`${indexPath} lists shard ${file}, which is missing from ${dir}; re-download it`);
    }
    const { tensors } = await readSafetensorsFile(path);
    for (const name of names) {
      const t = tensors.get(name);
      if (!t) {
        throw new CheckpointError(
          `${indexPath} maps '${name}' to ${file}, but that shard has no such tensor; re-download the checkpoint`,
        );
      }
      out.set(name, t);
    }
  }
  return out;
}

async function readWeightMap(indexPath: string): Promise<Record<string, string>> {
  let index: unknown;
  try {
    index = JSON.parse(await Deno.readTextFile(indexPath));
  } catch (e) {
    throw new CheckpointError(`${indexPath}: not valid JSON (${(e as Error).message}); re-download it`);
  }
  const weightMap = isObject(index) ? (index as Record<string, unknown>).weight_map : undefined;
  if (!isObject(weightMap)) {
    throw new CheckpointError(
      `${indexPath}: no "weight_map" object mapping tensor names to shard files; re-download it`,
    );
  }
  for (const [name, file] of Object.entries(weightMap as Record<string, unknown>)) {
    if (typeof file !== "string" || isAbsolute(file) || normalize(file).startsWith("..")) {
      throw new CheckpointError(
        `${indexPath}: weight_map['${name}'] = ${JSON.stringify(file)} is not a shard file name inside the directory`,
      );
    }
  }
  return weightMap as Record<string, string>;
}

/** Options for `writeCheckpointTensors`. */
export interface WriteCheckpointOptions {
  /** Largest shard in bytes (transformers' `max_shard_size`); one model.safetensors when unset or all fits. */
  shardBytes?: number;
  /** `__metadata__` of every file; transformers writes {"format": "pt"}. */
  metadata?: Record<string, string>;
  /** Write every tensor in this dtype; unset: each keeps its source dtype (F32 when it has none). */
  dtype?: WriteDtype;
}

/**
 * Write tensors as transformers' `save_pretrained` does: one `model.safetensors`, or shards
 * `model-0000i-of-0000K.safetensors` plus `model.safetensors.index.json`. Tensors are packed in the given
 * order; a tensor bigger than `shardBytes` gets a shard of its own. Stale files of the other layout (or old
 * shards) are removed after the new ones are in place. Returns the file names written.
 */
export async function writeCheckpointTensors(
  dir: string,
  tensors: Map<string, HostTensor> | Record<string, HostTensor>,
  options: WriteCheckpointOptions = {},
): Promise<string[]> {
  const map = tensors instanceof Map ? tensors : new Map(Object.entries(tensors));
  const metadata = options.metadata ?? { format: "pt" };
  const bytes = (t: HostTensor) => DTYPE_BYTES[writeDtype(t, options.dtype)] * t.data.length;
  const shards = splitIntoShards(map, options.shardBytes ?? Infinity, bytes);
  const written: string[] = [];
  if (shards.length <= 1) {
    await writeSafetensorsFile(join(dir, SINGLE_FILE), map, metadata, options.dtype);
    written.push(SINGLE_FILE);
  } else {
    const weightMap: Record<string, string> = {};
    let totalSize = 0;
    for (const [i, names] of shards.entries()) {
      const file = `model-${pad5(i + 1)}-of-${pad5(shards.length)}.safetensors`;
      const shard = new Map(names.map((n) => [n, map.get(n)!]));
      await writeSafetensorsFile(join(dir, file), shard, metadata, options.dtype);
      for (const n of names) {
        weightMap[n] = file;
        totalSize += bytes(map.get(n)!);
      }
      written.push(file);
    }
    const sortedMap = Object.fromEntries(Object.keys(weightMap).sort().map((n) => [n, weightMap[n]]));
    await atomicWriteJson(join(dir, INDEX_FILE), { metadata: { total_size: totalSize }, weight_map: sortedMap });
    written.push(INDEX_FILE);
  }
  await removeStale(dir, new Set(written));
  return written;
}

/** huggingface_hub's `split_state_dict_into_shards_factory`, by storage size in the written dtype. */
function splitIntoShards(
  tensors: Map<string, HostTensor>,
  maxBytes: number,
  bytes: (t: HostTensor) => number,
): string[][] {
  const shards: string[][] = [];
  let current: string[] = [];
  let currentBytes = 0;
  for (const [name, t] of tensors) {
    const size = bytes(t);
    if (size > maxBytes) {
      shards.push([name]);
      continue;
    }
    if (currentBytes + size > maxBytes) {
      shards.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(name);
    currentBytes += size;
  }
  if (current.length > 0) shards.push(current);
  return shards;
}

async function removeStale(dir: string, keep: Set<string>): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    const ours = entry.name === SINGLE_FILE || entry.name === INDEX_FILE || SHARD_RE.test(entry.name);
    if (entry.isFile && ours && !keep.has(entry.name)) await Deno.remove(join(dir, entry.name));
  }
}

function pad5(i: number): string {
  return String(i).padStart(5, "0");
}

function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}
