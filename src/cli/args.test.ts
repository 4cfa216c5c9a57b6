/** The argument parser (node:util parseArgs underneath) and the CLI's help, version and suggestions. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { packageRoot } from '../testing/fixtures.js';
import { gradscope } from '../testing/cli.js';
import { HelpRequest, integerFlag, packageVersion, parseArgs, UsageError, type FlagSpec } from './args.js';

const SPEC: FlagSpec = { values: ['out', 'steps'], switches: ['json'], lists: ['set'], usage: 'usage: x' };

function usageError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UsageError, String(e));
    assert.match(e.message, pattern);
    return true;
  });
}

describe('parseArgs', () => {
  it('splits positionals, values, switches and repeated lists', () => {
    const a = parseArgs(
      ['cfg', '--steps', '2', '--json', '--set', 'a=1', '--set=b=2', '--out=dir', 'more'],
      SPEC,
      'run',
    );
    assert.deepEqual(a.positionals, ['cfg', 'more']);
    assert.deepEqual(a.values, { steps: '2', out: 'dir' });
    assert.deepEqual([...a.switches], ['json']);
    assert.deepEqual(a.lists, { set: ['a=1', 'b=2'] });
    assert.equal(integerFlag(a, 'steps', 1), 2);
    assert.deepEqual(parseArgs([], SPEC, 'run'), {
      positionals: [],
      values: {},
      switches: new Set(),
      lists: {},
    });
  });

  it('an unknown flag names the command, the nearest flag and the accepted ones', () => {
    usageError(
      () => parseArgs(['--stpes', '3'], SPEC, 'run'),
      /^gradscope run: unknown option --stpes; accepted: --out, --steps, --json, --set, --help; did you mean --steps\?$/,
    );
    usageError(() => parseArgs(['--zzzzzz'], SPEC, 'run'), /unknown option --zzzzzz; accepted: .*--help\.$/);
    usageError(() => parseArgs(['-x'], SPEC, 'run'), /unknown option -x/);
    usageError(
      () => parseArgs(['--preset', 'deep-sigmoid'], SPEC, 'run'),
      /unknown option --preset; a preset name is given as a plain argument: gradscope run NAME; accepted:/,
    );
    usageError(
      () => parseArgs(['--config=my.json'], SPEC, 'fix'),
      /a config file is given as a plain argument: gradscope fix my\.json/,
    );
  });

  it('a switch with a value, or a value flag without one, is a usage error', () => {
    usageError(() => parseArgs(['--json=1'], SPEC, 'run'), /--json takes no value, got "1"/);
    usageError(() => parseArgs(['--steps'], SPEC, 'run'), /--steps needs a value/);
    usageError(() => parseArgs(['--steps', '--json'], SPEC, 'run'), /--steps needs a value/);
    usageError(() => parseArgs(['--steps', '-3'], SPEC, 'run'), /must be attached: --steps=-3/);
    usageError(() => integerFlag(parseArgs(['--steps=-3'], SPEC, 'run'), 'steps', 1), /integer >= 1/);
  });

  it('-h and --help anywhere throw HelpRequest with the usage text, even beside mistakes', () => {
    for (const argv of [['-h'], ['--help'], ['cfg', '--bogus', '--help']]) {
      assert.throws(
        () => parseArgs(argv, SPEC, 'run'),
        (e: unknown) => e instanceof HelpRequest && e.text === 'usage: x' && e.command === 'run',
      );
    }
    assert.throws(
      () => parseArgs(['--help'], { values: ['top'], switches: [] }, 'fix'),
      (e: unknown) => e instanceof HelpRequest && /gradscope fix/.test(e.text) && /--top/.test(e.text),
    );
  });

  it('everything after -- is positional', () => {
    assert.deepEqual(parseArgs(['--', '--json'], SPEC, 'run').positionals, ['--json']);
  });

  it('packageVersion is package.json version', () => {
    const pkg = JSON.parse(readFileSync(`${packageRoot()}/package.json`, 'utf8')) as { version: string };
    assert.equal(packageVersion(), pkg.version);
  });
});

const COMMANDS = ['run', 'compare', 'doctor', 'fix', 'preflight', 'lab', 'presets', 'demo'];

describe('gradscope help, version and suggestions (built CLI)', () => {
  it('--help and -h on every command print its usage to stdout and exit 0', () => {
    for (const command of COMMANDS) {
      for (const flag of ['--help', '-h']) {
        const r = gradscope([command, flag]);
        assert.equal(r.status, 0, `${command} ${flag}: ${r.stderr}`);
        assert.match(r.stdout, new RegExp(`usage: gradscope ${command}`), `${command} ${flag}`);
        assert.equal(r.stderr, '');
      }
    }
    const run = gradscope(['help', 'run']);
    assert.equal(run.status, 0);
    assert.match(run.stdout, /--set PATH=VALUE/);
    assert.match(run.stdout, /--verify/);
  });

  it('top-level --help, -h and help list every command (exit 0); no command prints it on stderr (exit 2)', () => {
    for (const flag of ['--help', '-h', 'help']) {
      const r = gradscope([flag]);
      assert.equal(r.status, 0, flag);
      for (const command of COMMANDS) assert.match(r.stdout, new RegExp(`gradscope ${command}`), command);
    }
    const none = gradscope([]);
    assert.equal(none.status, 2);
    assert.equal(none.stdout, '');
    assert.match(none.stderr, /usage: gradscope <command>/);
  });

  it('--version prints the package version', () => {
    const r = gradscope(['--version']);
    assert.equal(r.status, 0);
    assert.equal(r.stdout.trim(), packageVersion());
    assert.match(r.stdout.trim(), /^\d+\.\d+\.\d+/);
  });

  it('a mistyped command, flag or preset exits 2 with a suggestion and no stack trace', () => {
    const cases: Array<[string[], RegExp]> = [
      [['rnu', 'deep-sigmoid'], /unknown command "rnu"; did you mean run\?/],
      [
        ['run', 'deep-sigmoid', '--stpes', '2'],
        /unknown option --stpes; accepted: .*; did you mean --steps\?/,
      ],
      [
        ['run', 'deep-sigmod'],
        /"deep-sigmod" is neither a config file nor a preset; did you mean deep-sigmoid\?/,
      ],
      [['presets', 'deep-sigmod'], /did you mean deep-sigmoid\?/],
    ];
    for (const [argv, pattern] of cases) {
      const r = gradscope(argv);
      assert.equal(r.status, 2, `${argv.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  });

  it('presets NAME prints the full resolved config, with --set applied', () => {
    const r = gradscope(['presets', 'deep-sigmoid']);
    assert.equal(r.status, 0, r.stderr);
    const config = JSON.parse(r.stdout) as {
      name: string;
      model: { hidden: number[]; activation: string };
      train: { steps: number };
    };
    assert.equal(config.name, 'deep-sigmoid');
    assert.equal(config.model.hidden.length, 20);
    assert.equal(config.model.activation, 'sigmoid');
    assert.ok(config.train.steps > 0);
    const relu = gradscope(['presets', 'deep-sigmoid', '--set', 'model.activation=relu']);
    assert.equal(relu.status, 0, relu.stderr);
    assert.equal((JSON.parse(relu.stdout) as { model: { activation: string } }).model.activation, 'relu');
  });
});
