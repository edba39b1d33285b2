/**
 * The results explorer in a real browser: headless Chromium (Debian's `chromium`; the test is skipped, saying why,
 * where it is absent) opens results/index.html from file:// through the DevTools protocol and checks that the page
 * logs no console errors and throws nothing, every chart renders a non-empty SVG, a tooltip appears when the mouse
 * is over a known point, and a table sorts when its header is clicked. A screenshot goes to a temp file, or to
 * MOLE_EXPLORER_SCREENSHOT (the committed results/explorer.png is made that way).
 */
import { join, resolve } from "node:path";
import { assert, assertEquals } from "../../src/testing/asserts.ts";

const ROOT = resolve(import.meta.dirname!, "..", "..");
const CHROMIUM = ["chromium", "chromium-browser", "google-chrome"].find((c) => {
  try {
    return new Deno.Command("which", { args: [c], stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
});
const PAGE = join(ROOT, "results", "index.html");
const hasPage = await Deno.stat(PAGE).then(() => true, () => false);

/** A minimal Chrome DevTools Protocol client over the browser's WebSocket. */
class Cdp {
  private next = 1;
  private waiting = new Map<number, (v: Record<string, unknown>) => void>();
  readonly events: { method: string; params: Record<string, unknown> }[] = [];
  private constructor(private ws: WebSocket, private session: string) {}

  static async open(url: string, page: string): Promise<Cdp> {
    const ws = new WebSocket(url);
    await new Promise((ok, fail) => {
      ws.onopen = ok;
      ws.onerror = fail;
    });
    const c = new Cdp(ws, "");
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg.id && c.waiting.has(msg.id)) {
        c.waiting.get(msg.id)!(msg.error ? { error: msg.error } : msg.result);
        c.waiting.delete(msg.id);
      } else if (msg.method) c.events.push({ method: msg.method, params: msg.params });
    };
    const { targetId } = await c.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await c.send("Target.attachToTarget", { targetId, flatten: true });
    c.session = sessionId as string;
    for (const d of ["Runtime.enable", "Log.enable", "Page.enable"]) await c.send(d);
    await c.send("Page.navigate", { url: `file://${page}` });
    return c;
  }

  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.next++;
    this.ws.send(JSON.stringify({ id, method, params, ...(this.session ? { sessionId: this.session } : {}) }));
    return new Promise((ok) => this.waiting.set(id, ok));
  }

  async eval<T>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true });
    return (r.result as { value: T }).value;
  }

  close() {
    this.ws.close();
  }
}

async function launch(): Promise<{ proc: Deno.ChildProcess; url: string; profile: string }> {
  const profile = await Deno.makeTempDir({ prefix: "mole-chromium-" });
  const proc = new Deno.Command(CHROMIUM!, {
    args: [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--remote-debugging-port=0",
      "--window-size=1400,1000",
      `--user-data-dir=${profile}`,
      "about:blank",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let buf = "";
  for await (const chunk of proc.stderr.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    const m = buf.match(/DevTools listening on (ws:\/\/\S+)/);
    if (m) return { proc, url: m[1], profile };
  }
  throw new Error(`chromium did not start: ${buf.slice(-400)}`);
}

Deno.test({
  name: "results explorer: no console errors, every chart an SVG, a tooltip on hover, tables sort (headless Chromium)",
  ignore: !CHROMIUM || !hasPage,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const { proc, url, profile } = await launch();
    const cdp = await Cdp.open(url, PAGE);
    try {
      // wait until every chart box has its SVG (vega-embed renders asynchronously)
      let counts = { boxes: 0, svgs: 0 };
      for (let i = 0; i < 100; i++) {
        counts = await cdp.eval<{ boxes: number; svgs: number }>(
          `({ boxes: document.querySelectorAll("[data-chart]").length,
              svgs: [...document.querySelectorAll("[data-chart]")].filter((b) => b.querySelector("svg.marks g")).length })`,
        );
        if (counts.boxes > 0 && counts.svgs === counts.boxes) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert(counts.boxes > 0, "the page has charts");
      assertEquals(counts.svgs, counts.boxes, "every chart rendered an SVG");
      // hover a point of the first compare chart (or the first chart): vega-tooltip shows its fields
      const at = await cdp.eval<{ x: number; y: number } | null>(`(() => {
        const box = document.querySelector('[data-chart="compare/average"]') ?? document.querySelector("[data-chart]");
        box.scrollIntoView();
        const mark = box.querySelector("svg .mark-rect path, svg .mark-symbol path");
        if (!mark) return null;
        const r = mark.getBoundingClientRect();
        return { x: r.left + r.width / 2, y: r.top + Math.min(r.height / 2, 5) };
      })()`);
      assert(at, "a mark to hover");
      await cdp.send("Input.dispatchMouseEvent", { type: "mouseMoved", x: at.x, y: at.y });
      let tip = "";
      for (let i = 0; i < 30 && !tip; i++) {
        await new Promise((r) => setTimeout(r, 100));
        tip = await cdp.eval<string>(
          `(() => { const t = document.getElementById("vg-tooltip-element");
             return t && t.classList.contains("visible") ? t.textContent : ""; })()`,
        );
      }
      assert(tip.length > 0, "a tooltip appeared over the point");
      // a table sorts by a clicked header: the column's leading numbers end up in ascending order
      const sorted = await cdp.eval<{ asc: boolean; values: number[] }>(`(() => {
        const th = document.querySelector("table th:nth-child(2)");
        th.click();
        const table = th.closest("table");
        const values = [...table.tBodies[0].rows].map((r) => parseFloat(r.cells[1].textContent.replace("−", "-")))
          .filter((v) => !Number.isNaN(v));
        return { asc: th.classList.contains("asc"), values };
      })()`);
      assert(sorted.asc && sorted.values.length > 1, "clicking a header sorts the table");
      assertEquals(sorted.values, [...sorted.values].sort((a, b) => a - b), "the clicked column is in ascending order");
      // every comparison the page shows against a reference carries its paired 95 % CI
      const contrast = await cdp.eval<string>(`(() => {
        const heads = [...document.querySelectorAll("table")].map((t) => t.querySelector("tr")?.textContent ?? "");
        return heads.find((h) => h.includes("Δ vs LoRA")) ?? "";
      })()`);
      assert(contrast.includes("95 % CI"), "compare's contrast table (Δ vs LoRA with its CI) is on the page");
      const power = await cdp.eval<boolean>(
        `document.body.textContent.includes("Power (every CI half-width ≤ 2.0 points): ")`,
      );
      assert(power, "each contrast table says whether it meets the power target");
      const errors = cdp.events.filter((e) =>
        e.method === "Runtime.exceptionThrown" ||
        (e.method === "Runtime.consoleAPICalled" && e.params.type === "error") ||
        (e.method === "Log.entryAdded" && (e.params.entry as { level: string }).level === "error")
      );
      assertEquals(errors.map((e) => JSON.stringify(e.params).slice(0, 300)), [], "no console errors");
      const shot = await cdp.send("Page.captureScreenshot", { format: "png" });
      const path = Deno.env.get("MOLE_EXPLORER_SCREENSHOT") ?? join(profile, "..", "mole-explorer.png");
      await Deno.writeFile(path, Uint8Array.from(atob(shot.data as string), (c) => c.charCodeAt(0)));
      console.log(`screenshot: ${path}`);
    } finally {
      cdp.close();
      proc.kill();
      await proc.status;
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    }
  },
});

if (!CHROMIUM) console.log("results explorer test skipped: no chromium (apt-get install chromium)");
if (CHROMIUM && !hasPage) console.log("results explorer test skipped: no results/index.html (deno task report)");
