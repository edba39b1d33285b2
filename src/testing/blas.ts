/** Run a test body on the blas backend, once with its native kernels and once with the JS loops. */
import { initBackend } from "../backend/backend.ts";
import { setNativeEnabled } from "../backend/native.ts";

/** `body(native)` on blas with the native kernels on, then off; the kernels and the cpu backend are restored after. */
export async function onBlasNativeAndJs(body: (native: boolean) => void): Promise<void> {
  await initBackend("blas");
  try {
    for (const native of [true, false]) {
      setNativeEnabled(native);
      body(native);
    }
  } finally {
    setNativeEnabled(true);
    await initBackend("cpu");
  }
}
