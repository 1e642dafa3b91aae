// playbooks/validate.ts as a user runs it: a real process, arguments as an array, exit codes and output.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))
const FIX = 'test/fixtures/inventories'

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    const { HAPAIR_INVENTORY: _, ...base } = process.env
    execFile(
      process.execPath,
      ['--import', 'tsx', 'playbooks/validate.ts', ...args],
      { cwd: root, env: { ...base, ...env }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0
        resolve({ code, stdout, stderr })
      },
    )
  })
}

const STACK = /^\s+at .+:\d+:\d+\)?$/m
const noStack = (r: Run) => {
  assert.not.match(r.stdout + r.stderr, STACK, `stack trace in output:\n${r.stderr}`)
  assert.not.match(r.stderr, /internal error/, r.stderr)
}

interface Case {
  name: string
  args: string[]
  env?: NodeJS.ProcessEnv
  code: number
  stdout?: RegExp[]
  stderr?: RegExp[]
  stderrLines?: number
}
const cases: Case[] = [
  { name: 'lab inventory is valid', args: ['--inventory', 'inventory/lab.json'], code: 0, stdout: [/^ok: inventory\/lab\.json \(1 pair, 2 nodes\)$/m] },
  {
    name: 'several pairs are counted',
    args: ['--inventory', `${FIX}/multi-pair.json`],
    code: 0,
    stdout: [/^ok: test\/fixtures\/inventories\/multi-pair\.json \(3 pairs, 7 nodes\)$/m],
  },
  { name: 'YAML inventory is valid', args: ['-i', `${FIX}/minimal.yaml`], code: 0, stdout: [/^ok: .*minimal\.yaml \(1 pair, 2 nodes\)$/m] },
  {
    name: 'no --inventory: $HAPAIR_INVENTORY',
    args: [],
    env: { HAPAIR_INVENTORY: `${FIX}/hcloud.json` },
    code: 0,
    stdout: [/^ok: .*hcloud\.json \(1 pair, 2 nodes\)$/m],
  },
  { name: 'no --inventory and no $HAPAIR_INVENTORY: the lab inventory', args: [], code: 0, stdout: [/^ok: inventory\/lab\.json /m] },
  {
    name: 'invalid inventory: every problem, located, one line each',
    args: ['--inventory', `${FIX}/invalid-many.json`],
    code: 2,
    stderr: [
      /^test\/fixtures\/inventories\/invalid-many\.json: pairs\/0\/nodes\/0\/adress: unknown property "adress"/m,
      /^test\/fixtures\/inventories\/invalid-many\.json: pairs\/0\/nodes\/1\/address: must match format "ipv4" \(got "192\.0\.2\.400"\)$/m,
      /^test\/fixtures\/inventories\/invalid-many\.json: pairs\/0\/nodes\/1\/name: duplicate node name "bad-a"/m,
      /^test\/fixtures\/inventories\/invalid-many\.json: pairs\/0\/primary: "nobody" is not a node of this pair/m,
      /^test\/fixtures\/inventories\/invalid-many\.json: pairs\/0\/floatingIps\/0\/address: 192\.0\.2\.40 is a node's own address/m,
    ],
    stderrLines: 5,
  },
  {
    name: 'not JSON',
    args: ['--inventory', `${FIX}/not-json.json`],
    code: 2,
    stderr: [/^test\/fixtures\/inventories\/not-json\.json: \(root\): not valid JSON: /m],
    stderrLines: 1,
  },
  {
    name: 'YAML syntax error',
    args: ['--inventory', `${FIX}/broken.yaml`],
    code: 2,
    stderr: [/^test\/fixtures\/inventories\/broken\.yaml: \(root\): not valid YAML: .* at line 5, column 5$/m],
    stderrLines: 1,
  },
  {
    name: 'missing file',
    args: ['--inventory', 'no/such/inventory.json'],
    code: 2,
    stderr: [/^no\/such\/inventory\.json: cannot read inventory: no such file$/m],
    stderrLines: 1,
  },
  { name: 'unknown flag', args: ['--inventroy', 'inventory/lab.json'], code: 2, stderr: [/unknown option: --inventroy/, /^usage: /m] },
  { name: '--inventory without a file', args: ['--inventory'], code: 2, stderr: [/--inventory needs a file name/] },
  { name: 'a stray argument', args: ['inventory/lab.json'], code: 2, stderr: [/unexpected argument: inventory\/lab\.json/] },
  {
    name: 'several files: each judged, exit 2 if any is bad',
    args: ['--inventory', 'inventory/lab.json', '--inventory', 'no/such.json', '--inventory', `${FIX}/minimal.json`],
    code: 2,
    stdout: [/^ok: inventory\/lab\.json /m, /^ok: .*minimal\.json /m],
    stderr: [/^no\/such\.json: cannot read inventory/m],
  },
  { name: '--help', args: ['--help'], code: 0, stdout: [/^usage: npx zx playbooks\/validate\.ts/m] },
]

// Each run pays tsx's start-up; start them all at once and let the tests wait for theirs.
const started = new Map(cases.map((c) => [c, run(c.args, c.env)]))

for (const c of cases) {
  test(c.name, async () => {
    const r = await started.get(c)!
    assert.is(r.code, c.code, `exit ${r.code}, wanted ${c.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
    for (const re of c.stdout ?? []) assert.match(r.stdout, re, `stdout lacks ${re}:\n${r.stdout}`)
    for (const re of c.stderr ?? []) assert.match(r.stderr, re, `stderr lacks ${re}:\n${r.stderr}`)
    if (c.stderrLines !== undefined) assert.is(r.stderr.trimEnd().split('\n').length, c.stderrLines, r.stderr)
    if (c.code !== 0 && !c.stdout) assert.not.match(r.stdout, /^ok: /m, `a failed run must not say ok:\n${r.stdout}`)
    noStack(r)
  })
}

test('runs the same through npx zx', async () => {
  const r = await new Promise<Run>((resolve) => {
    execFile(
      'npx',
      ['--no-install', 'zx', 'playbooks/validate.ts', '--inventory', `${FIX}/invalid-many.json`],
      { cwd: root, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    )
  })
  assert.is(r.code, 2, r.stderr)
  assert.match(r.stderr, /invalid-many\.json: pairs\/0\/primary: /)
  noStack(r)
})

test.run()
