// A huge error log on a real node: each verify reads at most its byte budget (8 MiB here, 64 MiB
// by default), finishes, saves where it stopped and says how much is left; later runs converge
// and find the line at the end. A pattern that backtracks exponentially is refused by validate.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { errorLogCheck } from '../../lib/checks/error-log.ts'
import { selectChecks } from '../../lib/checks/registry.ts'
import { verifyPair } from '../../lib/checks/runner.ts'
import { inventoryProblems } from '../../lib/inventory/validate.ts'
import { SshPool } from '../../lib/ssh.ts'
import { startTestLab, type TestLab } from '../helpers/lab.ts'

const MiB = 1024 * 1024
let lab: TestLab
let pool: SshPool
test.before(async () => {
  lab = await startTestLab()
  pool = new SshPool(lab.inv)
  process.env.HAPAIR_LOG_SCAN_BYTES = String(8 * MiB)
})
test.after(async () => {
  delete process.env.HAPAIR_LOG_SCAN_BYTES
  pool?.close()
  await lab?.down()
})

const pair = () => lab.inv.data.pairs[0]
const verify = async () => (await verifyPair(lab.inv, pair(), pool, selectChecks(['error-log']))).find((r) => r.node === 'node-a' && r.check === 'error-log')!

test('a 40 MiB log with an 8 MiB budget: every run finishes, saves its offset and says what is left; the runs converge on the late ERROR', async () => {
  const r0 = await lab.exec('node-a', [
    'sh',
    '-c',
    `yes 'INFO a perfectly ordinary line of the application log' | head -c ${40 * MiB} > /var/log/app/error.log; echo 'ERROR the late one' >> /var/log/app/error.log`,
  ])
  assert.is(r0.code, 0, r0.stderr)
  const details: string[] = []
  let found = false
  for (let run = 1; run <= 8; run++) {
    const t0 = Date.now()
    const r = await verify()
    assert.ok(Date.now() - t0 < 30_000, `run ${run} took ${Date.now() - t0} ms`)
    details.push(r.detail)
    if (/ERROR the late one/.test(r.detail)) found = true
    if (r.ok) break
    if (!found) assert.match(r.detail, /MiB left to scan next run \(at most 8\.0 MiB per run\)/)
  }
  assert.match(details[0], /^app: \d+ lines in the whole log \(first verify\) scanned, none unusual; 3\d MiB left/, details[0])
  assert.ok(found, details.join('\n'))
  assert.ok(details.length >= 5 && details.length <= 7, `${details.length} runs:\n${details.join('\n')}`)
  assert.match(details[details.length - 1], /^app: 0 new lines since \S+, none unusual$/)
})

test('validate refuses a pattern that backtracks exponentially (inventory validator and the check)', () => {
  const data = JSON.parse(JSON.stringify(lab.inv.data))
  data.pairs[0].errorLogs[0].patterns.push('(a+)+$')
  const problems = inventoryProblems(data)
  assert.ok(
    problems.some((p) => p.path.endsWith('/errorLogs/0/patterns/3') && /exponential time/.test(p.message)),
    JSON.stringify(problems),
  )
  const own = errorLogCheck.validate!(data.pairs[0])
  assert.equal(own.length, 1)
  assert.match(own[0], /pattern "\(a\+\)\+\$" nests a quantifier/)
  assert.equal(errorLogCheck.validate!(pair()), [], "the lab's own patterns pass")
})

test.run()
