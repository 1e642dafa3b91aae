// bench/verify: sync-drift wall time on a 100,000-file tree on both lab nodes, fast mode and
// --deep, against plain sha256sum over the same trees run the same way (both nodes at once,
// the same parallel fan-out, digests sent back over the same SSH connections).
//   node --import tsx bench/verify/run.ts [--files N] [--reps R] [--out FILE]
import { writeFileSync } from 'node:fs'
import { minimist } from 'zx'
import { selectChecks } from '../../lib/checks/registry.ts'
import { verifyPair } from '../../lib/checks/runner.ts'
import type { Pair } from '../../lib/inventory/schema.ts'
import { labPlan } from '../../lib/lab/index.ts'
import { nodePaths } from '../../lib/lab/node.ts'
import { HASH_BATCH } from '../../lib/listing.ts'
import { SshPool } from '../../lib/ssh.ts'
import { startTestLab } from '../../test/helpers/lab.ts'
import { DEFAULT_TREE, makePool, totalBytes, writeTree } from './tree.ts'

const args = minimist(process.argv.slice(2), { string: ['files', 'reps', 'out'] })
const spec = { ...DEFAULT_TREE, files: Number(args.files ?? DEFAULT_TREE.files) }
const reps = Number(args.reps ?? 3)
const item = { name: 'bench', path: '/srv/bench', mirror: true }
const BASELINE = `cd /srv/bench && find . -type f -print0 | xargs -0 -r -P "$(nproc)" -n ${HASH_BATCH} sha256sum`

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const secs = (ms: number) => (ms / 1000).toFixed(2)

const lab = await startTestLab()
try {
  const pair: Pair = { ...lab.inv.data.pairs[0], sync: { items: [item] } }
  const t0 = Date.now()
  const pool = makePool()
  for (const n of labPlan(lab.inv).nodes) writeTree(`${nodePaths(n).srv}/bench`, spec, pool)
  const gb = totalBytes(spec) / 2 ** 30
  console.log(`tree: ${spec.files} files, ${gb.toFixed(2)} GiB per node, written on ${pair.nodes.length} nodes in ${secs(Date.now() - t0)} s`)

  const ssh = new SshPool(lab.inv)
  const check = selectChecks(['sync-drift'])
  const timed = async (fn: () => Promise<void>) => { const t = performance.now(); await fn(); return performance.now() - t }
  const drift = (deep: boolean) => timed(async () => {
    const rs = await verifyPair(lab.inv, pair, ssh, check, { deep })
    const bad = rs.filter((r) => !r.ok)
    if (bad.length) throw new Error(`bench tree reported drift: ${JSON.stringify(bad)}`)
    if (!rs.some((r) => new RegExp(`${spec.files + Math.ceil(spec.files / spec.perDir)} entries match`).test(r.detail))) throw new Error(`unexpected: ${rs[1].detail}`)
  })
  const baseline = () => timed(async () => {
    const outs = await Promise.all(pair.nodes.map((n) => ssh.session(pair, n).run({ script: BASELINE }, { timeoutMs: 3_600_000 })))
    for (const o of outs) if (o.stdout.split('\n').filter(Boolean).length !== spec.files) throw new Error('baseline hashed the wrong number of files')
  })

  // One untimed round warms the page cache and the connections for all three alike.
  await drift(false); await drift(true); await baseline()
  const t = { fast: [] as number[], deep: [] as number[], sha256sum: [] as number[] }
  for (let r = 0; r < reps; r++) {
    // Rotating the order spreads any drift in machine load over all three.
    const order = [['fast', () => drift(false)], ['deep', () => drift(true)], ['sha256sum', baseline]] as const
    for (let k = 0; k < 3; k++) {
      const [name, fn] = order[(k + r) % 3]
      t[name].push(await fn())
    }
    console.log(`rep ${r + 1}: fast ${secs(t.fast[r])} s, deep ${secs(t.deep[r])} s, sha256sum ${secs(t.sha256sum[r])} s`)
  }
  ssh.close()
  const m = { fast: median(t.fast), deep: median(t.deep), sha256sum: median(t.sha256sum) }
  const result = {
    files: spec.files, gibPerNode: Number(gb.toFixed(2)), nodes: pair.nodes.length, reps, cpus: (await import('node:os')).cpus().length,
    medianSeconds: { fast: Number(secs(m.fast)), deep: Number(secs(m.deep)), sha256sum: Number(secs(m.sha256sum)) },
    deepOverSha256sum: Number((m.deep / m.sha256sum).toFixed(3)),
    // Per repetition the two ran back to back, so load from elsewhere tends to hit both alike.
    deepOverSha256sumPerRep: t.deep.map((d, i) => Number((d / t.sha256sum[i]).toFixed(3))),
    deepOverFast: Number((m.deep / m.fast).toFixed(1)),
    targets: { deepOverSha256sumAtMost: 1.2, deepOverFastAtLeast: 10 },
  }
  console.log(JSON.stringify(result, null, 2))
  console.log(`deep / sha256sum = ${result.deepOverSha256sum} (target <= 1.2): ${result.deepOverSha256sum <= 1.2 ? 'met' : 'MISSED'}`)
  console.log(`deep / fast = ${result.deepOverFast} (target >= 10): ${result.deepOverFast >= 10 ? 'met' : 'MISSED'}`)
  if (args.out) writeFileSync(args.out, JSON.stringify(result, null, 2) + '\n')
} finally {
  await lab.down()
}
