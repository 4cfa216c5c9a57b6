/** Terminal progress: a redrawn bar on a TTY, a plain line every few seconds otherwise (logs, CI). */
import type { Progress } from '../train/trainer.js';

export function progressPrinter(
  label: string,
  stream: NodeJS.WriteStream = process.stderr,
): { update(p: Progress): void; done(): void } {
  const tty = Boolean(stream.isTTY);
  let lastPrint = 0;
  let drawn = false;
  return {
    update(p) {
      const now = performance.now();
      const interval = tty ? 100 : 5000;
      if (now - lastPrint < interval && p.step !== p.steps && p.step !== 1) return;
      lastPrint = now;
      const rate = p.step / Math.max(p.elapsedSeconds, 1e-9);
      const eta = (p.steps - p.step) / Math.max(rate, 1e-9);
      const loss = Number.isFinite(p.loss) ? p.loss.toPrecision(4) : String(p.loss);
      if (tty) {
        const width = 28;
        const filled = Math.round((width * p.step) / p.steps);
        const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
        stream.write(
          `\r${label} ${bar} ${p.step}/${p.steps} loss ${loss} ${rate.toFixed(1)} steps/s eta ${eta.toFixed(0)}s  `,
        );
        drawn = true;
      } else {
        stream.write(
          `${label} step ${p.step}/${p.steps} loss ${loss} (${rate.toFixed(1)} steps/s, eta ${eta.toFixed(0)}s)\n`,
        );
      }
    },
    done() {
      if (tty && drawn) stream.write('\n');
    },
  };
}
