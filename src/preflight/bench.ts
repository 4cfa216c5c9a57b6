/**
 * Preflight benchmark: the speed target (depth 50, width 512, 8 networks in under 10 s on 2 cores) and
 * theory beside measurement on a few configs. Prints; asserts nothing (speed targets live here, not in tests).
 *
 *   npm run build && node dist/preflight/bench.js      (or: npx tsx src/preflight/bench.ts)
 */
import { pathToFileURL } from 'node:url';
import { resolveConfig, type Config } from '../config/index.js';
import { preflight, type PreflightReport } from './index.js';
import { criticalSigmaW2 } from './theory.js';

interface Case {
  label: string;
  config: Config;
  networks: number;
}

function tanh(sigmaW2: number, sigmaB2: number, depth: number, width: number): Config['model'] {
  return {
    kind: 'mlp',
    depth,
    width,
    activation: 'tanh',
    init: { gain: Math.sqrt(sigmaW2), base: 'lecun-normal' },
    bias: { normal: Math.sqrt(sigmaB2) },
  };
}

function cases(): Case[] {
  const critical = criticalSigmaW2({ name: 'tanh' }, { mean: 0, variance: 0.05 }) as number;
  const model = (m: Config['model']): Config => (m === undefined ? {} : { model: m });
  return [
    {
      label: 'speed target: tanh xavier, depth 50, width 512',
      config: model({ kind: 'mlp', depth: 50, width: 512, activation: 'tanh' }),
      networks: 8,
    },
    {
      label: 'speed: relu he, depth 50, width 512',
      config: model({ kind: 'mlp', depth: 50, width: 512, activation: 'relu', init: 'he-normal' }),
      networks: 8,
    },
    { label: 'tanh ordered (1.0, 0.05), 20 x 256', config: model(tanh(1, 0.05, 20, 256)), networks: 8 },
    {
      label: `tanh critical (${critical.toFixed(3)}, 0.05), 20 x 256`,
      config: model(tanh(critical, 0.05, 20, 256)),
      networks: 8,
    },
    { label: 'tanh chaotic (4.0, 0.05), 20 x 256', config: model(tanh(4, 0.05, 20, 256)), networks: 8 },
    {
      label: 'sigmoid xavier, 20 x 64 (deep-sigmoid)',
      config: model({ kind: 'mlp', depth: 20, width: 64, activation: 'sigmoid', init: 'xavier-uniform' }),
      networks: 8,
    },
    {
      label: 'relu xavier, 30 x 64',
      config: model({ kind: 'mlp', depth: 30, width: 64, activation: 'relu', init: 'xavier-uniform' }),
      networks: 8,
    },
    {
      label: 'selu lecun, 20 x 256',
      config: model({ kind: 'mlp', depth: 20, width: 256, activation: 'selu', init: 'lecun-normal' }),
      networks: 8,
    },
    {
      label: 'mnist 784 -> 10 x 512 relu he (estimated Jacobian)',
      config: {
        task: { name: 'mnist' },
        ...model({ kind: 'mlp', depth: 10, width: 512, activation: 'relu', init: 'he-normal' }),
      },
      networks: 2,
    },
    {
      label: 'rnn tanh orthogonal, adding T = 50, hidden 64',
      config: { task: { name: 'adding', length: 50 }, ...model({ kind: 'rnn', hidden: 64 }) },
      networks: 8,
    },
  ];
}

function num(x: number | null | undefined): string {
  if (x === null || x === undefined) return '-';
  return Number.isFinite(x)
    ? Math.abs(x) >= 1e-3 && Math.abs(x) < 1e5
      ? x.toPrecision(4)
      : x.toExponential(2)
    : String(x);
}

function summary(report: PreflightReport): string {
  const t = report.theory;
  const parts = [`verdict ${report.verdict}`];
  if (t) {
    const lastQ = report.layers[report.layers.length - 1]?.q;
    parts.push(
      `ln chi_1 ${num(Math.log(t.chi1))} vs fitted ln factor ${num(Math.log(report.fit.perLayerFactor ?? NaN))}`,
      `q* ${num(t.qStar)} vs q_L ${num(lastQ)}`,
      `g_0/g_L predicted ${num(t.gradRatio)} measured ${num(report.gradRatio)}`,
    );
  } else {
    parts.push(`g ratio ${num(report.gradRatio)}`);
    if (report.fit.perStepFactor !== null) parts.push(`per-step factor ${num(report.fit.perStepFactor)}`);
  }
  parts.push(`jacobian ${report.jacobian.method} mean s^2 ${num(report.jacobian.meanSquaredSingular)}`);
  return parts.join('; ');
}

export function runBench(): void {
  let checksum = 0;
  for (const c of cases()) {
    const config = resolveConfig(c.config, { defaultName: 'bench' });
    const start = performance.now();
    const report = preflight(config, { networks: c.networks });
    const seconds = (performance.now() - start) / 1000;
    checksum += report.layers.reduce((s, l) => s + l.gradNorm2, 0);
    process.stdout.write(
      `${c.label} [${c.networks} networks]: ${seconds.toFixed(2)} s\n    ${summary(report)}\n`,
    );
  }
  process.stdout.write(`(checksum ${checksum.toExponential(6)})\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) runBench();
