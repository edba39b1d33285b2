/**
 * Progress for long runs: a redrawn bar on a TTY (cells done, step, loss, ETA), plain log lines otherwise
 * (CI logs, pipes, notebooks).
 */
const enc = new TextEncoder();

export interface Progress {
  /** A permanent line (printed above the bar on a TTY). */
  log(line: string): void;
  /** Update the live status; on a non-TTY only every `every`-th call is printed. */
  status(fields: { cell: number; cells: number; label: string; step?: number; steps?: number; loss?: number }): void;
  done(): void;
}

/** Seconds as m:ss (rounded to the second first, so 59.6 s reads 1:00, not 0:60). */
export function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return "--:--";
  const total = Math.round(s);
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, "0")}`;
}

export function createProgress(opts: { tty?: boolean; quiet?: boolean } = {}): Progress {
  const tty = opts.tty ?? (Deno.stderr.isTerminal() && !Deno.env.get("CI"));
  const started = performance.now();
  let drawn = false;
  let lastPlain = 0;
  const write = (s: string) => Deno.stderr.writeSync(enc.encode(s));
  const clear = () => {
    if (drawn) write("\r\x1b[2K");
    drawn = false;
  };
  return {
    log(line) {
      if (opts.quiet) return;
      clear();
      console.log(line);
    },
    status({ cell, cells, label, step, steps, loss }) {
      if (opts.quiet) return;
      const elapsed = (performance.now() - started) / 1000;
      const frac = (cell + (step && steps ? step / steps : 0)) / Math.max(1, cells);
      const eta = frac > 0 ? elapsed * (1 - frac) / frac : Infinity;
      const stepText = step !== undefined && steps ? ` step ${step}/${steps}` : "";
      const lossText = loss !== undefined ? ` loss ${loss.toFixed(3)}` : "";
      if (tty) {
        const width = 24;
        const filled = Math.round(frac * width);
        const bar = "█".repeat(filled) + "░".repeat(width - filled);
        clear();
        write(
          `${bar} cell ${cell + 1}/${cells} ${label}${stepText}${lossText} · ${fmtTime(elapsed)} elapsed, ETA ${
            fmtTime(eta)
          }`,
        );
        drawn = true;
      } else if (performance.now() - lastPlain > 15000 || step === steps) {
        lastPlain = performance.now();
        console.log(
          `[${fmtTime(elapsed)}] cell ${cell + 1}/${cells} ${label}${stepText}${lossText} (ETA ${fmtTime(eta)})`,
        );
      }
    },
    done() {
      clear();
    },
  };
}
