// The example nightly jobs must not rot: every playbook command line in them parses (a flag
// the playbook does not know would be exit 2 at 3 a.m.), and the unit files are well formed.
import { readdirSync, readFileSync } from 'node:fs'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import YAML from 'yaml'
import { playbook } from '../helpers/playbook.ts'

interface Cmd { where: string; name: string; args: string[] }
const cmds: Cmd[] = []
const words = (s: string) => s.split(/\s+/).filter(Boolean)
function collect(where: string, line: string) {
  for (const m of line.matchAll(/playbooks\/([a-z-]+)\.ts((?:\s+[^\s>&|;]+)*)/g)) cmds.push({ where, name: m[1], args: words(m[2]) })
}

const wf = YAML.parse(readFileSync('examples/github-actions/nightly-verify.yml', 'utf8'))
for (const [job, def] of Object.entries<any>(wf.jobs)) for (const step of def.steps) if (step.run) collect(`workflow ${job}: ${step.name ?? step.run}`, step.run)
for (const f of readdirSync('examples/systemd')) {
  const text = readFileSync(`examples/systemd/${f}`, 'utf8')
  test(`systemd ${f}: sections and keys are well formed`, () => {
    for (const line of text.split('\n')) {
      if (!line.trim() || line.startsWith('#')) continue
      assert.match(line, /^(\[(Unit|Service|Timer|Install)\]|[A-Za-z]+=.*)$/, line)
    }
    if (f.endsWith('.service')) assert.match(text, /^Type=oneshot$/m)
    if (f.endsWith('.timer')) { assert.match(text, /^OnCalendar=/m); assert.match(text, /^WantedBy=timers\.target$/m) }
  })
  for (const line of text.split('\n')) if (line.startsWith('ExecStart=')) collect(`systemd ${f}`, line)
}

test('the examples run both playbooks, backup-verify with --restore', () => {
  assert.ok(cmds.some((c) => c.name === 'verify'))
  assert.ok(cmds.filter((c) => c.name === 'backup-verify').every((c) => c.args.includes('--restore')))
  assert.ok(cmds.length >= 4, JSON.stringify(cmds))
})

test('the workflow runs nightly and publishes the JUnit reports', () => {
  assert.ok(wf.on.schedule[0].cron)
  const steps = wf.jobs.verify.steps
  const junit = steps.find((s: any) => String(s.uses).startsWith('mikepenz/action-junit-report'))
  assert.is(junit.if, 'always()')
  assert.match(junit.with.report_paths, /reports\/\*\.xml/)
})

test('every example command line is accepted by its playbook (flags parse; only the inventory is missing)', async () => {
  for (const c of cmds) {
    const r = await playbook(c.name, [...c.args, '--inventory', '/nonexistent/inventory.json'])
    assert.is(r.code, 2, `${c.where}: ${r.stderr}`)
    assert.match(r.stderr, /cannot read inventory: no such file/, `${c.where}: ${r.stderr}`)
  }
})

test.run()
