import { join } from "node:path";
import { CheckpointError } from "../errors.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../testing/asserts.ts";
import {
  f16ToNumber,
  type HostTensor,
  loadCheckpointTensors,
  numberToF16,
  parseSafetensors,
  readSafetensorsFile,
  serializeSafetensors,
  writeCheckpointTensors,
  writeSafetensorsFile,
} from "./safetensors.ts";

/** A safetensors file from a literal header string and raw data bytes. */
function buildFile(header: string, data: number[] | Uint8Array = []): Uint8Array {
  const head = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + head.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  out.set(data, 8 + head.length);
  return out;
}

/** Little-endian bytes of u16 words. */
function u16le(words: number[]): number[] {
  return words.flatMap((w) => [w & 0xff, w >> 8]);
}

function f32Bits(a: Float32Array): number[] {
  return [...new Uint32Array(a.buffer, a.byteOffset, a.length)];
}

function tensor(shape: number[], values: number[]): HostTensor {
  return { shape, data: Float32Array.from(values) };
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "safetensors_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("serialize → parse round-trips values bit-exactly, incl. scalars, zero-size and special floats", () => {
  const special = [0, -0, 1.5, -2, Infinity, -Infinity, NaN, 1e-45, 3.4028234663852886e38, Math.fround(0.1)];
  const tensors = new Map<string, HostTensor>([
    ["model.layers.0.w", tensor([2, 5], special)],
    ["scalar", tensor([], [42.25])],
    ["empty", tensor([0, 3], [])],
    ["a.bias", tensor([3], [1, 2, 3])],
  ]);
  const bytes = serializeSafetensors(tensors, { format: "pt", note: "ünïcode" });
  const { tensors: back, metadata } = parseSafetensors(bytes, "rt.safetensors");
  assertEquals(metadata, { format: "pt", note: "ünïcode" });
  assertEquals([...back.keys()].sort(), [...tensors.keys()].sort());
  for (const [name, t] of tensors) {
    assertEquals(back.get(name)!.shape, t.shape, name);
    assertEquals(f32Bits(back.get(name)!.data), f32Bits(t.data), name);
  }
});

Deno.test("serialize writes sorted names, a space-padded 8-byte-aligned header and little-endian F32 data", () => {
  const bytes = serializeSafetensors({ b: tensor([1], [1]), a: tensor([2], [-2, 0.5]) });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assertEquals(n % 8, 0);
  const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  const json =
    '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}';
  assertEquals(header, json + " ".repeat(n - json.length));
  assertEquals(n, 112); // 106 bytes of JSON + 6 spaces
  // -2 = 0xC0000000, 0.5 = 0x3F000000, 1 = 0x3F800000, little-endian
  assertEquals([...bytes.subarray(8 + n)], [0, 0, 0, 0xc0, 0, 0, 0, 0x3f, 0, 0, 0x80, 0x3f]);
  assertEquals(bytes.length, 8 + n + 12);
});

Deno.test("serialize writes __metadata__ only when given, and rejects a data/shape mismatch", () => {
  const text = (b: Uint8Array) => new TextDecoder().decode(b.subarray(8));
  assert(!text(serializeSafetensors({ x: tensor([1], [1]) })).includes("__metadata__"));
  assert(text(serializeSafetensors({ x: tensor([1], [1]) }, { format: "pt" })).startsWith('{"__metadata__"'));
  assertThrows(() => serializeSafetensors({ x: tensor([2, 2], [1, 2, 3]) }), CheckpointError, "shape [2,2] holds 4");
});

Deno.test("f16ToNumber decodes normals, subnormals, zeros, infinities and NaN", () => {
  assertEquals(f16ToNumber(0x3c00), 1);
  assertEquals(f16ToNumber(0xc000), -2);
  assertEquals(f16ToNumber(0x3555), 0.333251953125);
  assertEquals(f16ToNumber(0x7bff), 65504);
  assertEquals(f16ToNumber(0x0400), 2 ** -14); // smallest normal
  assertEquals(f16ToNumber(0x0001), 2 ** -24); // smallest subnormal
  assertEquals(f16ToNumber(0x03ff), 1023 * 2 ** -24); // largest subnormal
  assertEquals(f16ToNumber(0x8000), -0);
  assertEquals(f16ToNumber(0x7c00), Infinity);
  assertEquals(f16ToNumber(0xfc00), -Infinity);
  assert(Number.isNaN(f16ToNumber(0x7e00)));
});

Deno.test("numberToF16 rounds to nearest even: every half value round-trips, ties, overflow, underflow, NaN", () => {
  for (let h = 0; h < 65536; h++) {
    const x = f16ToNumber(h);
    if (!Number.isNaN(x)) assertEquals(numberToF16(x), h, `half 0x${h.toString(16)}`);
  }
  assertEquals(numberToF16(1 + 2 ** -11), 0x3c00); // halfway between 1 and the next half: to even (1)
  assertEquals(numberToF16(1 + 3 * 2 ** -11), 0x3c02); // halfway between 0x3c01 and 0x3c02: to even
  assertEquals(numberToF16(65519), 0x7bff); // below the midpoint to 65536: the largest half
  assertEquals(numberToF16(65520), 0x7c00); // the midpoint rounds to even, i.e. overflows to +Infinity
  assertEquals(numberToF16(-1e6), 0xfc00);
  assertEquals(numberToF16(2 ** -25), 0x0000); // half the smallest subnormal: ties to even zero
  assertEquals(numberToF16(3 * 2 ** -26), 0x0001);
  assertEquals(numberToF16(-0), 0x8000);
  assertEquals(numberToF16(NaN) & 0x7e00, 0x7e00); // a quiet NaN
});

Deno.test("parse decodes a hand-built file with BF16, F16 and F64 tensors, an unpadded header and metadata", () => {
  const header = JSON.stringify({
    f16: { dtype: "F16", shape: [2, 3], data_offsets: [8, 20] },
    __metadata__: { source: "hand" },
    bf16: { dtype: "BF16", shape: [4], data_offsets: [0, 8] },
    f64: { dtype: "F64", shape: [2], data_offsets: [20, 36] },
  });
  const f64 = new Uint8Array(16);
  new DataView(f64.buffer).setFloat64(0, 0.1, true);
  new DataView(f64.buffer).setFloat64(8, -3.5, true);
  const data = [
    ...u16le([0x3f80, 0xc000, 0x7f80, 0x0001]), // bf16: 1, -2, inf, 2^-133 (an f32 subnormal)
    ...u16le([0x3c00, 0xc000, 0x0001, 0x03ff, 0x7c00, 0x3555]), // f16
    ...f64,
  ];
  const { tensors, metadata } = parseSafetensors(buildFile(header, data), "hand.safetensors");
  assertEquals(metadata, { source: "hand" });
  assertEquals(tensors.get("bf16")!.shape, [4]);
  assertEquals([...tensors.get("bf16")!.data], [1, -2, Infinity, 2 ** -133]);
  assertEquals(tensors.get("f16")!.shape, [2, 3]);
  assertEquals([...tensors.get("f16")!.data], [1, -2, 2 ** -24, 1023 * 2 ** -24, Infinity, 0.333251953125]);
  assertEquals([...tensors.get("f64")!.data], [Math.fround(0.1), -3.5]);
});

Deno.test("parse accepts a header padded with trailing spaces", () => {
  const header = '{"x":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}     ';
  const { tensors } = parseSafetensors(buildFile(header, [0, 0, 0x80, 0x3f]), "pad.safetensors");
  assertEquals(tensors.get("x"), { shape: [], data: Float32Array.of(1), dtype: "F32" });
});

const ENTRY = (dtype: string, shape: number[], offsets: number[]) => ({ dtype, shape, data_offsets: offsets });

const CORRUPT: { name: string; bytes: () => Uint8Array; fragment: string }[] = [
  { name: "shorter than 8 bytes", bytes: () => new Uint8Array(5), fragment: "only 5 bytes, too short" },
  {
    name: "header length beyond the file",
    bytes: () => buildFile("{}").subarray(0, 9),
    fragment: "the header length 2 exceeds the 1 bytes that follow",
  },
  { name: "header not JSON", bytes: () => buildFile("{nope"), fragment: "the header is not valid UTF-8 JSON" },
  {
    name: "header not UTF-8",
    bytes: () => {
      const b = buildFile('{"x":1}');
      b[10] = 0xff;
      return b;
    },
    fragment: "not valid UTF-8 JSON",
  },
  { name: "header an array", bytes: () => buildFile("[1,2]"), fragment: "the header is not a JSON object" },
  {
    name: "entry without dtype",
    bytes: () => buildFile(JSON.stringify({ w: { shape: [1], data_offsets: [0, 4] } }), [0, 0, 0, 0]),
    fragment: "tensor 'w': the header entry needs dtype, shape and data_offsets",
  },
  {
    name: "unsupported dtype",
    bytes: () => buildFile(JSON.stringify({ ids: ENTRY("I64", [1], [0, 8]) }), new Array(8).fill(0)),
    fragment: `tensor 'ids' has dtype "I64", which cannot be loaded`,
  },
  {
    name: "a dtype named like an Object.prototype key",
    bytes: () => buildFile(JSON.stringify({ w: ENTRY("toString", [1], [0, 4]) }), [0, 0, 0, 0]),
    fragment: `tensor 'w' has dtype "toString", which cannot be loaded`,
  },
  {
    name: "bad shape",
    bytes: () => buildFile(JSON.stringify({ w: ENTRY("F32", [-1], [0, 4]) }), [0, 0, 0, 0]),
    fragment: "shape [-1] is not a list of non-negative integers",
  },
  {
    name: "offsets reversed",
    bytes: () => buildFile(JSON.stringify({ w: ENTRY("F32", [1], [4, 0]) }), [0, 0, 0, 0]),
    fragment: "data_offsets [4,0] is not [begin, end]",
  },
  {
    name: "offsets not matching shape × dtype",
    bytes: () => buildFile(JSON.stringify({ w: ENTRY("F32", [2], [0, 4]) }), [0, 0, 0, 0]),
    fragment: "tensor 'w' (F32, shape [2]) needs 8 bytes but data_offsets [0, 4] span 4",
  },
  {
    name: "overlapping tensors",
    bytes: () =>
      buildFile(JSON.stringify({ a: ENTRY("F32", [2], [0, 8]), b: ENTRY("F32", [1], [4, 8]) }), new Array(8).fill(0)),
    fragment: "tensors 'a' and 'b' overlap in the data buffer (bytes 4..8)",
  },
  {
    name: "a hole between tensors",
    bytes: () =>
      buildFile(JSON.stringify({ a: ENTRY("F32", [1], [0, 4]), b: ENTRY("F32", [1], [8, 12]) }), new Array(12).fill(0)),
    fragment: "data bytes 4..8 belong to no tensor (a hole before 'b')",
  },
  {
    name: "truncated data",
    bytes: () => buildFile(JSON.stringify({ a: ENTRY("F32", [2], [0, 8]) }), [0, 0, 0, 0]),
    fragment: "truncated: the header describes 8 data bytes but the file holds 4; re-save or re-download it",
  },
  {
    name: "trailing bytes",
    bytes: () => buildFile(JSON.stringify({ a: ENTRY("F32", [1], [0, 4]) }), new Array(6).fill(0)),
    fragment: "2 trailing bytes after the last tensor",
  },
  {
    name: "metadata not string → string",
    bytes: () => buildFile(JSON.stringify({ __metadata__: { n: 1 } })),
    fragment: `"__metadata__" must map strings to strings`,
  },
];

for (const c of CORRUPT) {
  Deno.test(`parse rejects a file with ${c.name} with a one-line CheckpointError naming the source`, () => {
    const e = assertThrows(() => parseSafetensors(c.bytes(), "bad.safetensors"), CheckpointError, c.fragment);
    assert(e.message.startsWith("bad.safetensors: "), e.message);
    assert(!e.message.includes("\n"), e.message);
  });
}

Deno.test("readSafetensorsFile (streaming) rejects every corrupt file with parse's message, naming the path", async () => {
  await withTempDir(async (dir) => {
    for (const c of CORRUPT) {
      const path = join(dir, "bad.safetensors");
      await Deno.writeFile(path, c.bytes());
      const e = await assertRejects(() => readSafetensorsFile(path), CheckpointError, c.fragment);
      assert(e.message.startsWith(`${path}: `) && !e.message.includes("\n"), `${c.name}: ${e.message}`);
    }
  });
});

Deno.test("readSafetensorsFile decodes mixed F32/BF16/F16/F64 tensors exactly as parse does", async () => {
  const header = {
    h: ENTRY("F16", [2], [0, 4]),
    f: ENTRY("F32", [1], [4, 8]),
    b: ENTRY("BF16", [3], [8, 14]),
    d: ENTRY("F64", [1], [14, 22]),
    e: ENTRY("BF16", [0], [22, 22]),
  };
  const data = [0x00, 0x3c, 0x00, 0xc0, 0, 0, 0x80, 0x3f, 0x80, 0x3f, 0x00, 0xc0, 0x49, 0x40];
  data.push(...new Uint8Array(Float64Array.of(0.1).buffer));
  const bytes = buildFile(JSON.stringify(header), data);
  await withTempDir(async (dir) => {
    const path = join(dir, "mixed.safetensors");
    await Deno.writeFile(path, bytes);
    const streamed = await readSafetensorsFile(path);
    const parsed = parseSafetensors(bytes, path);
    assertEquals(streamed, parsed);
    assertEquals([...streamed.tensors.get("h")!.data], [1, -2]);
    assertEquals([...streamed.tensors.get("b")!.data], [1, -2, 3.140625]);
    assertEquals(streamed.tensors.get("d")!.data[0], Math.fround(0.1));
  });
});

Deno.test("parse never throws anything but CheckpointError on truncated or bit-flipped files", () => {
  const good = serializeSafetensors({ a: tensor([2, 2], [1, 2, 3, 4]), b: tensor([], [5]) }, { format: "pt" });
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const cases: Uint8Array[] = [];
  for (let cut = 0; cut < good.length; cut++) cases.push(good.subarray(0, cut));
  for (let i = 0; i < 500; i++) {
    const b = good.slice();
    b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
    cases.push(b);
  }
  for (const b of cases) {
    try {
      parseSafetensors(b, "fuzz");
    } catch (e) {
      assert(e instanceof CheckpointError, `${(e as Error).name}: ${(e as Error).message}`);
    }
  }
});

Deno.test("readSafetensorsFile names the path of a missing or corrupt file; write → read round-trips", async () => {
  await withTempDir(async (dir) => {
    const missing = join(dir, "none.safetensors");
    await assertRejects(() => readSafetensorsFile(missing), CheckpointError, `${missing}: no such file`);
    const bad = join(dir, "bad.safetensors");
    await Deno.writeFile(bad, new Uint8Array(3));
    await assertRejects(() => readSafetensorsFile(bad), CheckpointError, `${bad}: only 3 bytes`);
    const path = join(dir, "sub", "ok.safetensors");
    await writeSafetensorsFile(path, { w: tensor([1, 2], [0.25, -8]) }, { k: "v" });
    const { tensors, metadata } = await readSafetensorsFile(path);
    assertEquals(metadata, { k: "v" });
    assertEquals(tensors.get("w"), { ...tensor([1, 2], [0.25, -8]), dtype: "F32" });
  });
});

/** Four-float tensors except `c`, which is 12 floats: with 40-byte shards, c gets a shard of its own. */
/** Tensors as a reader returns them: each with the dtype it was stored in (F32 here). */
function asRead(m: Map<string, HostTensor>): Map<string, HostTensor> {
  return new Map([...m].map(([k, t]) => [k, { ...t, dtype: "F32" as const }]));
}

function modelTensors(): Map<string, HostTensor> {
  return new Map([
    ["a", tensor([4], [1, 2, 3, 4])],
    ["b", tensor([2, 2], [5, 6, 7, 8])],
    ["c", tensor([3, 4], Array.from({ length: 12 }, (_, i) => i / 8))],
    ["d", tensor([4], [-1, -2, -3, -4])],
    ["e", tensor([1, 4], [9, 10, 11, 12])],
  ]);
}

Deno.test("writeCheckpointTensors shards as transformers does and loadCheckpointTensors reads the index", async () => {
  await withTempDir(async (dir) => {
    const files = await writeCheckpointTensors(dir, modelTensors(), { shardBytes: 40 });
    assertEquals(files, [
      "model-00001-of-00003.safetensors",
      "model-00002-of-00003.safetensors",
      "model-00003-of-00003.safetensors",
      "model.safetensors.index.json",
    ]);
    const index = await Deno.readTextFile(join(dir, "model.safetensors.index.json"));
    assertEquals(
      index,
      JSON.stringify(
        {
          metadata: { total_size: 112 },
          weight_map: {
            a: "model-00002-of-00003.safetensors",
            b: "model-00002-of-00003.safetensors",
            c: "model-00001-of-00003.safetensors",
            d: "model-00003-of-00003.safetensors",
            e: "model-00003-of-00003.safetensors",
          },
        },
        null,
        2,
      ) + "\n",
    );
    const shard2 = await readSafetensorsFile(join(dir, "model-00002-of-00003.safetensors"));
    assertEquals(shard2.metadata, { format: "pt" });
    assertEquals([...shard2.tensors.keys()], ["a", "b"]);
    const loaded = await loadCheckpointTensors(dir);
    assertEquals(new Map([...loaded].sort()), asRead(modelTensors()));
  });
});

Deno.test("writeCheckpointTensors writes one model.safetensors when all fits and removes a stale index and shards", async () => {
  await withTempDir(async (dir) => {
    await writeCheckpointTensors(dir, modelTensors(), { shardBytes: 40 });
    await Deno.writeTextFile(join(dir, "config.json"), "{}");
    const files = await writeCheckpointTensors(dir, modelTensors());
    assertEquals(files, ["model.safetensors"]);
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assertEquals(names.sort(), ["config.json", "model.safetensors"]);
    assertEquals(await loadCheckpointTensors(dir), asRead(new Map([...modelTensors()].sort())));
  });
});

Deno.test("loadCheckpointTensors explains an empty directory, a bad index, a missing shard and a missing tensor", async () => {
  await withTempDir(async (dir) => {
    await assertRejects(
      () => loadCheckpointTensors(dir),
      CheckpointError,
      `no model.safetensors or model.safetensors.index.json in ${dir}`,
    );
    const indexPath = join(dir, "model.safetensors.index.json");
    await Deno.writeTextFile(indexPath, "{ not json");
    await assertRejects(() => loadCheckpointTensors(dir), CheckpointError, `${indexPath}: not valid JSON`);
    await Deno.writeTextFile(indexPath, JSON.stringify({ metadata: {} }));
    await assertRejects(() => loadCheckpointTensors(dir), CheckpointError, `${indexPath}: no "weight_map" object`);
    await Deno.writeTextFile(indexPath, JSON.stringify({ weight_map: { a: "../x.safetensors" } }));
    await assertRejects(() => loadCheckpointTensors(dir), CheckpointError, "is not a shard file name");
    await Deno.writeTextFile(indexPath, JSON.stringify({ weight_map: { a: "model-00001-of-00001.safetensors" } }));
    await assertRejects(
      () => loadCheckpointTensors(dir),
      CheckpointError,
      "lists shard model-00001-of-00001.safetensors, which is missing",
    );
    await writeSafetensorsFile(join(dir, "model-00001-of-00001.safetensors"), { b: tensor([1], [1]) });
    await assertRejects(
      () => loadCheckpointTensors(dir),
      CheckpointError,
      `${indexPath} maps 'a' to model-00001-of-00001.safetensors, but that shard has no such tensor`,
    );
  });
});
