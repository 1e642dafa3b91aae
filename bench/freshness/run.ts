// bench/freshness: what measuring freshness costs per node, against the plain listing it is
// built on, side by side in one run. Usage: node --import tsx bench/freshness/run.ts [--files 20000] [--reps 5]
// hapair: behind() over one item (listing on both "nodes", parse, compare, protected and excluded
// paths left out). Baseline: `find DIR -printf '%y %s %T@ %P %l\0'` of the same tree, run twice.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { minimist } from 'zx'
import { behind } from '../../lib/freshness.ts'
import type { Pair } from '../../lib/inventory/schema.ts'
import type { Command, RunOptions, SshPool } from '../../lib/ssh.ts'
import { runLocal } from '../../test/checks/_local.ts'

/** Both "nodes" are this machine: what is timed is the listing, parsing and comparing, not SSH. */
function localPool(): SshPool {
  return {
    session: (_pair: Pair, node: { name: string } | string) => {
      const name = typeof node === 'string' ? node : node.name
      return {
        name,
        async run(cmd: Command, opts?: RunOptions) {
          return { ...runLocal(cmd, opts), node: name }
        },
        close() {},
      }
    },
    close() {},
  } as unknown as SshPool
}

const args = minimist(process.argv.slice(2), { default: { files: 20000, reps: 5 } })
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const root = mkdtempSync(path.join(tmpdir(), 'hapair-bench-fresh-'))
try {
  const dirs = Math.max(1, Math.round(args.files / 200))
  for (let d = 0; d < dirs; d++) {
    mkdirSync(path.join(root, `d${d}`), { recursive: true })
    for (let f = 0; f < 200; f++) writeFileSync(path.join(root, `d${d}`, `f${f}`), 'x')
  }
  const pair = {
    name: 'p',
    primary: 'a',
    nodes: [
      { name: 'a', address: '198.51.100.11' },
      { name: 'b', address: '198.51.100.12' },
    ],
    sync: { items: [{ name: 'big', path: root, mirror: true, exclude: ['*.tmp'] }], protected: [`${root}/d7`] },
  } as unknown as Pair
  const ours: number[] = []
  const plain: number[] = []
  for (let r = 0; r < args.reps; r++) {
    let t0 = performance.now()
    await behind(localPool(), pair, 'a', ['b'])
    ours.push(performance.now() - t0)
    t0 = performance.now()
    for (let k = 0; k < 2; k++) spawnSync('find', [root, '-printf', '%y %s %T@ %P %l\\0'], { stdio: ['ignore', 'ignore', 'inherit'] })
    plain.push(performance.now() - t0)
  }
  const o = median(ours),
    p = median(plain)
  console.log(
    JSON.stringify(
      {
        files: dirs * 200,
        reps: args.reps,
        behindMs: Math.round(o),
        twoListingsMs: Math.round(p),
        ratio: +(o / p).toFixed(2),
        raw: { ours: ours.map(Math.round), plain: plain.map(Math.round) },
      },
      null,
      2,
    ),
  )
} finally {
  rmSync(root, { recursive: true, force: true })
}
