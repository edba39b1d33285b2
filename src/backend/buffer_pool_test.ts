import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals } from "../testing/asserts.ts";
import { initBackend } from "./backend.ts";
import { loadBlas } from "./blas_ffi.ts";
import { BufferPool, POOL } from "./buffer_pool.ts";

const hasBlas = loadBlas() !== null;

Deno.test("BufferPool reuses a buffer only after its last reference is released", () => {
  const pool = new BufferPool(1 << 20, 4);
  const a = pool.take(8);
  const view = a.subarray(2, 6); // a second tensor sharing the buffer, as tfjs-cpu's contiguous Slice makes
  pool.retain(a);
  pool.retain(view);
  pool.release(a);
  assert(pool.take(8) !== a, "still referenced by the view: not reusable");
  pool.release(view);
  assertEquals(pool.stats(), { freeBytes: 32, liveBuffers: 0 });
  assert(pool.take(8) === a, "free again: reused");
});

Deno.test("BufferPool never recycles arrays it did not make, small arrays, or beyond its byte cap", () => {
  const pool = new BufferPool(64, 4);
  const user = new Float32Array(8);
  pool.retain(user);
  pool.release(user);
  assertEquals(pool.stats().freeBytes, 0);
  const small = pool.take(2);
  assert(!pool.owns(small));
  const [x, y, z] = [pool.take(8), pool.take(8), pool.take(8)];
  for (const b of [x, y, z]) {
    pool.retain(b);
    pool.release(b);
  }
  assertEquals(pool.stats().freeBytes, 64, "at the 64-byte cap the oldest 32-byte buffer was dropped");
  const big = pool.take(16);
  pool.retain(big);
  pool.release(big);
  assertEquals(pool.stats().freeBytes, 64, "a 64-byte buffer evicts the older size class");
  assert(pool.take(16) === big);
  const huge = pool.take(32);
  pool.retain(huge);
  pool.release(huge);
  assertEquals(pool.stats().freeBytes, 0, "a buffer larger than the cap is never kept");
});

Deno.test({
  name: "blas: disposed outputs are recycled, reads are copies, user arrays are left alone",
  ignore: !hasBlas,
  fn: async () => {
    await initBackend("blas");
    const n = 8192;
    const user = new Float32Array(n).fill(1);
    const x = tf.tensor1d(user);
    const y = x.mul(3); // a pooled output
    const read = y.dataSync() as Float32Array;
    read[0] = -1; // a copy: the tensor is unchanged
    assertEquals((await y.data())[0], 3);
    const before = POOL.stats().freeBytes;
    y.dispose();
    assertEquals(POOL.stats().freeBytes, before + 4 * n, "y's buffer went back to the pool");
    const z = x.add(1); // reuses it
    assertEquals(POOL.stats().freeBytes, before);
    x.dispose();
    assertEquals(user[0], 1, "the user's array was not recycled or overwritten");
    assertEquals((await z.data())[5], 2);
    // A slice view keeps its buffer alive after the sliced tensor is gone.
    const w = tf.range(0, n, 1, "float32").mul(1);
    const head = w.slice([0], [n / 2]);
    w.dispose();
    const noise = tf.fill([n], 7).mul(1);
    assertEquals(Array.from((await head.data()).slice(0, 3)), [0, 1, 2]);
    tf.dispose([z, head, noise]);
  },
});
