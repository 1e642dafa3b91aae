// The example nightly jobs must not rot: every playbook command line in them parses (a flag
// the playbook does not know would be exit 2 at 3 a.m.), and the unit files are well formed.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import YAML from 'yaml'
import { playbook } from '../helpers/playbook.ts'
import { loadCheckedInventory } from '../../lib/inventory/ssh-files.ts'
import { sshSettings } from '../../lib/inventory/load.ts'
import { readPrivateKey } from '../../lib/ssh-key.ts'

interface Cmd {
  where: string
  name: string
  args: string[]
}
const cmds: Cmd[] = []
const words = (s: string) => s.split(/\s+/).filter(Boolean)
function collect(where: string, line: string) {
  for (const m of line.matchAll(/playbooks\/([a-z-]+)\.ts((?:\s+[^\s>&|;]+)*)/g)) cmds.push({ where, name: m[1], args: words(m[2]) })
}

const wf = YAML.parse(readFileSync('examples/github-actions/nightly-verify.yml', 'utf8'))
const workflows = readdirSync('examples/github-actions')
  .filter((f) => f.endsWith('.yml'))
  .map((f) => ({ file: `examples/github-actions/${f}`, wf: YAML.parse(readFileSync(`examples/github-actions/${f}`, 'utf8')) }))
for (const { file, wf } of workflows) {
  for (const [job, def] of Object.entries<any>(wf.jobs))
    for (const step of def.steps) if (step.run) collect(`${file} ${job}: ${step.name ?? step.run}`, step.run)
}
for (const f of readdirSync('examples/systemd')) {
  const text = readFileSync(`examples/systemd/${f}`, 'utf8')
  test(`systemd ${f}: sections and keys are well formed`, () => {
    for (const line of text.split('\n')) {
      if (!line.trim() || line.startsWith('#')) continue
      assert.match(line, /^(\[(Unit|Service|Timer|Install)\]|[A-Za-z]+=.*)$/, line)
    }
    // A timer's service runs once and ends; the others (watch, follow, guard) run for good and are restarted.
    if (f.endsWith('.service') && existsSync(`examples/systemd/${f.replace(/\.service$/, '.timer')}`)) assert.match(text, /^Type=oneshot$/m)
    else if (f.endsWith('.service')) {
      assert.match(text, /^Type=(simple|exec)$/m)
      assert.match(text, /^Restart=(always|on-failure)$/m)
    }
    if (f.endsWith('.timer')) {
      assert.match(text, /^OnCalendar=/m)
      assert.match(text, /^WantedBy=timers\.target$/m)
    }
  })
  for (const line of text.split('\n')) if (line.startsWith('ExecStart=')) collect(`systemd ${f}`, expand(text, line))
}

/** systemd's own ${VAR} expansion in ExecStart=, from the unit's Environment= lines. */
function expand(unit: string, line: string): string {
  const env = Object.fromEntries([...unit.matchAll(/^Environment=([A-Z_]+)=(.*)$/gm)].map((m) => [m[1], m[2]]))
  return line.replace(/\$\{([A-Z_]+)\}/g, (_, k) => {
    if (!(k in env)) throw new Error(`\${${k}} is not set in the unit: ${line}`)
    return env[k]
  })
}

// Debian's prometheus-node-exporter reads /var/lib/prometheus/node-exporter; upstream's docs use
// other directories. One setting per unit, with Debian's as the default, and the sandbox lets it be written.
test("units that write metrics take the directory from one setting, Debian's by default, and may write there", () => {
  let units = 0
  for (const f of readdirSync('examples/systemd')) {
    const text = readFileSync(`examples/systemd/${f}`, 'utf8')
    const exec = text.split('\n').filter((l) => l.startsWith('ExecStart=') && l.includes('--metrics '))
    if (!exec.length) continue
    units++
    assert.match(text, /^Environment=HAPAIR_METRICS_DIR=\/var\/lib\/prometheus\/node-exporter$/m, f)
    for (const l of exec) assert.match(l, /--metrics \$\{HAPAIR_METRICS_DIR\}\/[a-z_]+\.prom(\s|$)/, f)
    const rw = (/^ReadWritePaths=(.*)$/m.exec(text)?.[1] ?? '').split(/\s+/).map((p) => p.replace(/^-/, ''))
    if (/^ProtectSystem=strict$/m.test(text)) assert.ok(rw.includes('/var/lib/prometheus/node-exporter'), `${f}: ReadWritePaths ${rw}`)
    assert.not.match(text, /\/var\/lib\/node_exporter\/textfile_collector\/hapair/, `${f} still writes the old directory`)
  }
  assert.ok(units >= 2, 'verify and backup-verify units write metrics')
})

test('the examples run both playbooks, backup-verify with --restore', () => {
  assert.ok(cmds.some((c) => c.name === 'verify'))
  assert.ok(cmds.filter((c) => c.name === 'backup-verify').every((c) => c.args.includes('--restore')))
  assert.ok(cmds.length >= 4, JSON.stringify(cmds))
})

test('a sync job: a oneshot unit with its timer, and a scheduled workflow job, each running sync', () => {
  assert.ok(existsSync('examples/systemd/hapair-sync.service') && existsSync('examples/systemd/hapair-sync.timer'))
  assert.ok(
    cmds.some((c) => c.where === 'systemd hapair-sync.service' && c.name === 'sync' && !c.args.includes('--follow')),
    JSON.stringify(cmds),
  )
  const jobs = workflows.filter(({ wf }) => wf.on?.schedule?.[0]?.cron)
  assert.ok(
    cmds.some((c) => c.name === 'sync' && c.where.startsWith('examples/github-actions/') && jobs.some((j) => c.where.startsWith(j.file))),
    JSON.stringify(cmds),
  )
  // The watcher's unit too: automatic failover is a service.
  assert.ok(cmds.some((c) => c.where === 'systemd hapair-watch.service' && c.name === 'watch'))
})

test('the README names every example file', () => {
  const docs = [
    readFileSync('README.md', 'utf8'),
    ...(existsSync('docs')
      ? readdirSync('docs', { recursive: true })
          .filter((f) => String(f).endsWith('.md'))
          .map((f) => readFileSync(path.join('docs', String(f)), 'utf8'))
      : []),
  ].join('\n')
  for (const d of ['systemd', 'github-actions']) {
    for (const f of readdirSync(`examples/${d}`)) {
      const base = f.replace(/\.(service|timer)$/, '')
      // "hapair-verify.service + .timer" names both.
      const both = new RegExp(`${base.replace(/[.-]/g, '\\$&')}\\.service\`\\s+\\+\\s+\`\\.timer`)
      assert.ok(docs.includes(f) || (f.endsWith('.timer') && both.test(docs)), `examples/${d}/${f} is not mentioned`)
    }
  }
})

test('the workflow runs nightly and publishes the JUnit reports', () => {
  assert.ok(wf.on.schedule[0].cron)
  const steps = wf.jobs.verify.steps
  const junit = steps.find((s: any) => String(s.uses).startsWith('mikepenz/action-junit-report'))
  assert.is(junit.if, 'always()')
  assert.match(junit.with.report_paths, /reports\/\*\.xml/)
})

// Key paths in an inventory resolve from the inventory file's directory. The credentials step,
// run as written in a checkout with the inventory the workflow's comment describes, must put
// the key and the pins exactly where hapair will read them.
for (const { file, wf } of workflows)
  for (const [name, job] of Object.entries<any>(wf.jobs))
    test(`${file} ${name}: writes the SSH key and known_hosts where the inventory's paths resolve`, () => {
      const text = readFileSync(file, 'utf8')
      const step = job.steps.find((s: any) => /SSH credentials/.test(s.name ?? ''))
      assert.ok(step, 'a step named "SSH credentials"')
      const keyFile = /"keyFile": "([^"]+)"/.exec(text)?.[1]
      const knownHostsFile = /"knownHostsFile": "([^"]+)"/.exec(text)?.[1]
      assert.ok(keyFile && knownHostsFile, 'the workflow says which keyFile and knownHostsFile the inventory names')
      const repo = mkdtempSync(path.join(tmpdir(), 'hapair-wf-'))
      try {
        const invFile = path.join(repo, job.env.HAPAIR_INVENTORY)
        mkdirSync(path.dirname(invFile), { recursive: true })
        const data = JSON.parse(readFileSync('inventory/lab.json', 'utf8'))
        delete data.$schema
        delete data.lab
        for (const p of data.pairs) {
          p.fencing = { driver: 'none' }
          for (const f of p.floatingIps ?? []) f.driver = 'linux'
        }
        data.defaults.ssh = { ...data.defaults.ssh, keyFile, knownHostsFile }
        writeFileSync(invFile, JSON.stringify(data))
        execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(repo, 'k')])
        const secrets: Record<string, string> = {
          HAPAIR_SSH_KEY: readFileSync(path.join(repo, 'k'), 'utf8').trimEnd(),
          HAPAIR_KNOWN_HOSTS: '198.51.100.11 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl',
        }
        const sub = (v: string) => v.replace(/\$\{\{\s*secrets\.([A-Z_]+)\s*\}\}/g, (_, k) => secrets[k])
        // Secrets reach the script through env (never pasted into it, where a quote in them would run).
        assert.not.match(step.run, /\$\{\{/, 'no ${{ }} inside the script')
        const env = { PATH: process.env.PATH!, ...Object.fromEntries(Object.entries<string>({ ...job.env, ...step.env }).map(([k, v]) => [k, sub(String(v))])) }
        execFileSync('bash', ['-e', '-c', step.run], { cwd: repo, env })
        const inv = loadCheckedInventory(invFile)
        const pair = inv.data.pairs[0]
        const ssh = sshSettings(inv, pair, pair.nodes[0])
        assert.ok(readPrivateKey(ssh.keyFile!).length > 0)
        assert.is(statSync(ssh.keyFile!).mode & 0o077, 0, 'the key is readable by its owner only')
        assert.match(readFileSync(ssh.knownHostsFile!, 'utf8'), /^198\.51\.100\.11 ssh-ed25519 /)
      } finally {
        rmSync(repo, { recursive: true, force: true })
      }
    })

test('every example command line is accepted by its playbook (flags parse; only the inventory is missing)', async () => {
  for (const c of cmds) {
    const r = await playbook(c.name, [...c.args, '--inventory', '/nonexistent/inventory.json'])
    assert.is(r.code, 2, `${c.where}: ${r.stderr}`)
    assert.match(r.stderr, /cannot read inventory: no such file/, `${c.where}: ${r.stderr}`)
  }
})

test.run()
