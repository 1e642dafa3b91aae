// bench/sync: the sync playbook, run as a user runs it (a process: start-up, connections, active
// view, probe, rsync, records), against the plain `rsync -a` command between the same two lab
// nodes, in the same run, on 20,000 small files plus a few 50 MB files: first copy, no-change
// re-sync and one-file-changed re-sync. A fourth contender runs the exact rsync argument vector
// the playbook runs (lib/sync/rsync.ts rsyncArgv) on node-a itself, so what our flags cost is
// measured against plain `rsync -a`, not stated. Each case rotates the contenders and keeps the median.
//   npm run bench:sync [-- --runs 5 --small 20000 --big 3 --big-mb 50 --json out.json]
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import os from 'node:os'
import { minimist } from 'zx'
import { loadInventory, sshSettings } from '../../lib/inventory/load.ts'
import { shJoin } from '../../lib/shell.ts'
import { protectedIn } from '../../lib/sync/filters.ts'
import { hostKeyAlias } from '../../lib/sync/pin.ts'
import { rsyncArgv } from '../../lib/sync/rsync.ts'
import { json, playbook } from '../../test/helpers/playbook.ts'
import { startTestLab, type TestLab } from '../../test/helpers/lab.ts'

const args = minimist(process.argv.slice(2), { string: ['json'], default: { runs: 5, small: 20000, big: 3, 'big-mb': 50 } })
const RUNS = Number(args.runs),
  SMALL = Number(args.small),
  BIG = Number(args.big),
  BIG_MB = Number(args['big-mb'])
const DIR = '/srv/bench'

async function sh(lab: TestLab, node: string, script: string, ...a: string[]): Promise<string> {
  const r = await lab.exec(node, ['sh', '-c', script, 'sh', ...a], { timeoutMs: 600_000 })
  if (r.code !== 0) throw new Error(`${node}: ${script.slice(0, 80)}: exit ${r.code}: ${r.stderr}`)
  return r.stdout
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function main() {
  const lab = await startTestLab({
    mutate: (j) => {
      // One item, the bench tree. Not mirror: plain `rsync -a` deletes nothing either, so both do the same work.
      j.pairs[0].sync.items = [
        { name: 'bench', path: DIR, priority: 10, transport: 'rsync', policy: 'equal', mirror: false, version: { file: '/var/lib/app/data-version' } },
      ]
    },
  })
  try {
    const inv = loadInventory(lab.file)
    const pair = inv.data.pairs[0]
    const b = pair.nodes.find((n) => n.name === 'node-b')!.address
    const t0 = Date.now()
    await sh(
      lab,
      'node-a',
      `set -e; mkdir -p "$1"; cd "$1"
      blk=$(head -c 1536 /dev/zero | tr '\\0' x); per=100; dirs=$(( ($2 + per - 1) / per )); n=0; d=0
      while [ $d -lt $dirs ]; do mkdir -p "d$d"; f=0
        while [ $f -lt $per ] && [ $n -lt $2 ]; do printf '%s %s %s\\n' "$blk" "$d" "$f" > "d$d/f$f"; f=$((f+1)); n=$((n+1)); done
        d=$((d+1)); done
      i=0; while [ $i -lt $3 ]; do head -c $(($4 * 1048576)) /dev/urandom > "big$i.bin"; i=$((i+1)); done`,
      DIR,
      String(SMALL),
      String(BIG),
      String(BIG_MB),
    )
    const [files, bytes] = (await sh(lab, 'node-a', 'find "$1" -type f | wc -l; du -sb "$1" | cut -f1', DIR)).trim().split('\n').map(Number)
    console.error(`tree: ${files} files, ${(bytes / 1e6).toFixed(0)} MB, made in ${((Date.now() - t0) / 1000).toFixed(1)} s`)

    // Two baselines. What an operator would type on the controller: ssh to node-a, rsync -a from
    // there (both sides then pay for a connection from the controller). And rsync started on
    // node-a directly, with no controller at all: the floor no controller-driven tool can beat.
    const plainCmd = [
      'rsync',
      '-a',
      '-e',
      `ssh -i ${pair.sync!.nodeKeyFile} -o UserKnownHostsFile=${pair.sync!.nodeKnownHostsFile} -o StrictHostKeyChecking=yes -o BatchMode=yes`,
      `${DIR}/`,
      `root@${b}:${DIR}/`,
    ]
    const plainSsh = async () => {
      const t = Date.now()
      const r = spawnSync('ssh', [...lab.sshArgs('node-a'), shJoin(plainCmd)], { encoding: 'utf8', timeout: 600_000 })
      if (r.status !== 0) throw new Error(`plain rsync over ssh: exit ${r.status}: ${r.stderr}`)
      return Date.now() - t
    }
    const plainLocal = async () => {
      const t = Date.now()
      const r = await lab.exec('node-a', plainCmd, { timeoutMs: 600_000 })
      if (r.code !== 0) throw new Error(`plain rsync on node-a: exit ${r.code}: ${r.stderr}`)
      return Date.now() - t
    }
    // The playbook as a user runs it (node --import tsx; `npx zx` adds npx's own start-up).
    const ours = async () => {
      const r = await playbook('sync', ['--inventory', lab.file, '--to', 'node-b', '--json'], { timeoutMs: 600_000 })
      if (r.code !== 0) throw new Error(`sync playbook: exit ${r.code}: ${r.stdout}${r.stderr}`)
      json(r) // it printed its report
      return r.ms
    }
    // Exactly the argument vector the playbook runs on node-a (the same builder, the same inputs).
    const target = pair.nodes.find((n) => n.name === 'node-b')!
    const ssh = sshSettings(inv, pair, target)
    const item = pair.sync!.items[0]
    const oursArgv = rsyncArgv({
      item,
      protect: protectedIn(pair, item),
      target: { user: ssh.user, address: target.address, port: ssh.port, hostKeyAlias: hostKeyAlias(pair, target) },
      keyFile: pair.sync!.nodeKeyFile,
      knownHostsFile: pair.sync!.nodeKnownHostsFile!,
      ioTimeoutSec: 60,
      holdDeletes: true, // the playbook without --force
    })
    console.error(`our rsync on node-a: ${shJoin(oursArgv)}`)
    const oursFlags = async () => {
      const t = Date.now()
      const r = await lab.exec('node-a', oursArgv, { timeoutMs: 600_000 })
      if (r.code !== 0) throw new Error(`our rsync argv on node-a: exit ${r.code}: ${r.stderr}`)
      return Date.now() - t
    }
    const clear = () => sh(lab, 'node-b', 'rm -rf "$1"', DIR)
    let k = 0
    const change = () => sh(lab, 'node-a', 'echo "change $2" >> "$1/d0/f0"', DIR, String(++k))

    const cases: { name: string; before: () => Promise<unknown> }[] = [
      { name: 'first copy', before: clear },
      { name: 'no-change re-sync', before: async () => {} },
      { name: 'one file changed', before: change },
    ]
    await clear()
    await plainLocal() // warm the page cache, so no contender pays for the first read from disk
    await ours() // and let the playbook write node-a's pin for node-b, which oursFlags needs
    const contenders = { ssh: plainSsh, local: plainLocal, flags: oursFlags, ours }
    const rows = []
    for (const c of cases) {
      const runs: Record<keyof typeof contenders, number[]> = { ssh: [], local: [], flags: [], ours: [] }
      const names = Object.keys(contenders) as (keyof typeof contenders)[]
      for (let i = 0; i < RUNS; i++) {
        // Rotate who goes first, so drift in the machine's load hits all alike.
        for (let j = 0; j < names.length; j++) {
          const who = names[(i + j) % names.length]
          await c.before()
          runs[who].push(await contenders[who]())
        }
      }
      const m = { ssh: median(runs.ssh), local: median(runs.local), flags: median(runs.flags), ours: median(runs.ours) }
      rows.push({
        case: c.name,
        plainSshMs: m.ssh,
        plainLocalMs: m.local,
        oursFlagsMs: m.flags,
        oursMs: m.ours,
        ratio: +(m.ours / m.ssh).toFixed(3),
        ratioLocal: +(m.ours / m.local).toFixed(3),
        flagsRatio: +(m.flags / m.local).toFixed(3),
        runs,
        filesPerSec: Math.round(files / (m.ours / 1000)),
        mbPerSec: +(bytes / 1e6 / (m.ours / 1000)).toFixed(1),
        plainFilesPerSec: Math.round(files / (m.ssh / 1000)),
        plainMbPerSec: +(bytes / 1e6 / (m.ssh / 1000)).toFixed(1),
      })
    }
    const s2 = (ms: number) => `${(ms / 1000).toFixed(2)} s`
    const header =
      '| case | `ssh node-a rsync -a` | `rsync -a` on node-a | our rsync flags on node-a | sync playbook | playbook vs ssh | playbook vs on node-a | our flags vs `rsync -a` | playbook: files/s | playbook: MB/s |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
    const table = rows.map(
      (r) =>
        `| ${r.case} | ${s2(r.plainSshMs)} | ${s2(r.plainLocalMs)} | ${s2(r.oursFlagsMs)} | ${s2(r.oursMs)} | ${r.ratio.toFixed(2)} | ${r.ratioLocal.toFixed(2)} | ${r.flagsRatio.toFixed(2)} | ${r.filesPerSec} | ${r.mbPerSec} |`,
    )
    const load = os.loadavg()[0].toFixed(1)
    console.log(
      `${files} files, ${(bytes / 1e6).toFixed(0)} MB (${SMALL} small + ${BIG} x ${BIG_MB} MB), median of ${RUNS} runs each, same lab run, load average ${load}\n${header}\n${table.join('\n')}`,
    )
    if (args.json) writeFileSync(args.json, JSON.stringify({ files, bytes, runs: RUNS, load, oursArgv, rows }, null, 2) + '\n')
    const worst = Math.max(...rows.map((r) => r.ratio))
    console.log(
      `worst ratio ${worst.toFixed(2)} against the same command started from the controller (target <= 1.10); ${Math.max(...rows.map((r) => r.ratioLocal)).toFixed(2)} against rsync started on node-a itself`,
    )
    return worst <= 1.1 ? 0 : 1
  } finally {
    await lab.down()
  }
}

process.exitCode = await main()
