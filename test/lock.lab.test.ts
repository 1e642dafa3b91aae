// The pair lock on real nodes: two separate processes racing over a stale lock have exactly one
// winner every round; a held lock renews past its expiry; keep() leaves lock and journal for the
// next run; a journal that fails its schema is reported and never resumed.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { stateDir } from '../lib/inventory/load.ts'
import { acquireLock, lockDir } from '../lib/lock.ts'
import { RefusedError } from '../lib/errors.ts'
import { SshPool } from '../lib/ssh.ts'
import { startTestLab, type TestLab } from './helpers/lab.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
let lab: TestLab
let tmp: string
let contender: string
const pair = () => lab.inv.data.pairs[0]
const NODES = ['node-a', 'node-b']

// A separate process per contender, as two operators would be: it waits for a shared start
// time, tries the lock, says won/refused, and holds a won lock until its stdin closes.
const CONTENDER = `
import { loadInventory } from ${JSON.stringify(path.join(root, 'lib/inventory/load.ts'))}
import { SshPool } from ${JSON.stringify(path.join(root, 'lib/ssh.ts'))}
import { acquireLock } from ${JSON.stringify(path.join(root, 'lib/lock.ts'))}
const [file, at] = process.argv.slice(2)
const inv = loadInventory(file)
const pool = new SshPool(inv)
const pair = inv.data.pairs[0]
await Promise.all(pair.nodes.map((n) => pool.session(pair, n).ping()))
await new Promise((r) => setTimeout(r, Math.max(0, Number(at) - Date.now())))
let held
try { held = await acquireLock(pool, pair, 'failover'); console.log('won') } catch (e) { console.log('refused: ' + e.message) }
process.stdin.resume()
await new Promise((r) => process.stdin.on('end', r))
await held?.release()
pool.close()
`

function startContender(at: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', contender, lab.file, String(at)], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  const said = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', () => {
      if (out.includes('\n')) resolve(out.trim())
    })
    child.on('close', (code) => reject(new Error(`contender exited ${code} before answering: ${err}`)))
  })
  const closed = new Promise<void>((r) => child.on('close', () => r()))
  return {
    said,
    finish: async () => {
      child.stdin.end()
      await closed
    },
  }
}

const staleOwner = (n: number) =>
  JSON.stringify({
    owner: `ghost@gone pid ${n}`,
    host: 'gone',
    pid: n,
    operation: 'failover',
    at: '2020-01-01T00:00:00Z',
    expires: new Date(Date.now() - 1000 - n).toISOString(),
  })

async function plant(owner: string, journal?: string): Promise<void> {
  const dir = lockDir(pair())
  for (const n of NODES) {
    const r = await lab.exec(n, [
      'sh',
      '-c',
      'rm -rf "$1" && mkdir -p "$1" && printf %s "$2" > "$1/owner" && if [ -n "$3" ]; then printf %s "$3" > "$1/journal"; fi',
      'sh',
      dir,
      owner,
      journal ?? '',
    ])
    assert.is(r.code, 0, r.stderr)
  }
}
const ls = async (node: string) =>
  (await lab.exec(node, ['sh', '-c', 'ls -A "$1" 2>/dev/null; exit 0', 'sh', lockDir(pair())])).stdout.split('\n').filter(Boolean)
const cat = async (node: string, file: string) => (await lab.exec(node, ['cat', `${lockDir(pair())}/${file}`])).stdout

test.before(async () => {
  lab = await startTestLab()
  tmp = mkdtempSync(path.join(os.tmpdir(), 'hapair-lock-'))
  contender = path.join(tmp, 'contender.mts')
  writeFileSync(contender, CONTENDER)
})
test.after(async () => {
  await lab?.down()
  if (tmp) rmSync(tmp, { recursive: true, force: true })
})

test('two processes racing over a stale lock: exactly one wins, every round (16 rounds)', async () => {
  const winners: number[] = []
  for (let round = 0; round < 16; round++) {
    await plant(staleOwner(round + 100))
    const at = Date.now() + 2500
    const cs = [startContender(at), startContender(at)]
    const said = await Promise.all(cs.map((c) => c.said))
    const won = said.filter((s) => s === 'won').length
    for (const s of said) if (s !== 'won') assert.match(s, /refused: pair demo (is locked on node-a by|: another run took the stale lock)/)
    winners.push(won)
    const owner = JSON.parse(await cat('node-a', 'owner'))
    assert.is.not(owner.host, 'gone', 'the stale owner was replaced')
    await Promise.all(cs.map((c) => c.finish()))
    assert.equal(await ls('node-a'), [], `round ${round}: the winner's release removed the lock`)
  }
  assert.equal(
    winners,
    winners.map(() => 1),
    `winners per round: ${winners.join(' ')}`,
  )
})

test('a held lock renews itself past its expiry, and stays exclusive', async () => {
  const pool = new SshPool(lab.inv)
  const other = new SshPool(lab.inv)
  try {
    const held = await acquireLock(pool, pair(), 'failback', { expiryMs: 1200 })
    const first = JSON.parse(await cat('node-b', 'owner')).expires
    await new Promise((r) => setTimeout(r, 3000))
    const later = JSON.parse(await cat('node-b', 'owner')).expires
    assert.ok(Date.parse(later) > Date.now(), `renewed: expires ${later}, first ${first}`)
    assert.ok(Date.parse(later) > Date.parse(first))
    // Another holder on another host would find it live; this host's check also sees our pid alive.
    try {
      await acquireLock(other, pair(), 'failover')
      assert.unreachable('should be refused')
    } catch (e) {
      assert.instance(e, RefusedError)
      assert.match((e as Error).message, /locked on node-a by .*\(failback/)
    }
    assert.is(held.lost(), undefined)
    await held.release()
    assert.equal(await ls('node-a'), [])
    assert.equal(await ls('node-b'), [])
  } finally {
    pool.close()
    other.close()
  }
})

test('a release while a renewal is under way leaves no lock behind', async () => {
  // Renewals every 100 ms (expiry 300 ms): releases at staggered moments land in the middle of
  // some of them. A renewal that finished after the release's rm wrote the owner back.
  const pool = new SshPool(lab.inv)
  try {
    for (let i = 0; i < 12; i++) {
      const held = await acquireLock(pool, pair(), 'failover', { expiryMs: 300 })
      await new Promise((r) => setTimeout(r, 100 + i * 9))
      await held.release()
      for (const n of NODES) assert.equal(await ls(n), [], `round ${i}: ${n} still holds a lock after release`)
    }
  } finally {
    pool.close()
  }
})

test('keep() leaves lock and journal; the next run resumes that journal', async () => {
  const pool = new SshPool(lab.inv)
  try {
    const held = await acquireLock(pool, pair(), 'failover', { expiryMs: 600 })
    const j = { operation: 'failover' as const, from: 'node-a', to: 'node-b', epoch: 7, steps: ['lock', 'fence'] }
    await held.journal(j)
    await held.keep()
    await new Promise((r) => setTimeout(r, 1200))
    for (const n of NODES) {
      assert.ok((await ls(n)).includes('journal'), `${n} still has the journal`)
      assert.equal(JSON.parse(await cat(n, 'journal')), j)
    }
    // Same process, so only the expiry makes it stale: keep() stopped the renewal.
    const next = await acquireLock(pool, pair(), 'failover')
    assert.equal(next.resumed, j)
    assert.is(next.badJournal, undefined)
    await next.release()
    assert.equal(await ls('node-a'), [])
  } finally {
    pool.close()
  }
})

const badJournals: [string, object, RegExp][] = [
  [
    'an epoch "9e99"',
    { operation: 'failover', from: 'node-a', to: 'node-b', epoch: '9e99', steps: ['lock'] },
    /journal on node-a is unusable \(epoch "9e99" is not a positive integer\)/,
  ],
  [
    'a node not in the inventory',
    { operation: 'failover', from: 'node-a', to: 'node-z', epoch: 3, steps: ['lock'] },
    /journal on node-a is unusable \(to "node-z" is not a node of pair demo/,
  ],
]
for (const [name, journal, want] of badJournals)
  test(`a journal with ${name} is reported, not resumed`, async () => {
    await plant(staleOwner(1), JSON.stringify(journal))
    const pool = new SshPool(lab.inv)
    try {
      const held = await acquireLock(pool, pair(), 'failover')
      assert.is(held.resumed, undefined)
      assert.match(held.badJournal ?? '', want)
      assert.match(held.badJournal ?? '', /node-b/, 'both nodes are named')
      await held.release()
    } finally {
      pool.close()
    }
    assert.not.ok((await lab.exec('node-a', ['test', '-e', stateDir(pair()) + '/lock'])).code === 0)
  })

test('--break-lock refuses a lock whose holder is alive on this host, naming the pid; once it is dead the lock is taken', async () => {
  const holder = spawn('sleep', ['600'], { stdio: 'ignore' })
  const live = (pid: number) =>
    JSON.stringify({
      owner: `ops@${os.hostname()} pid ${pid}`,
      host: os.hostname(),
      pid,
      operation: 'failover',
      at: new Date().toISOString(),
      expires: new Date(Date.now() + 600_000).toISOString(),
      id: 'x',
    })
  const pool = new SshPool(lab.inv)
  try {
    await plant(live(holder.pid!))
    try {
      await acquireLock(pool, pair(), 'failover', { breakLock: true })
      assert.unreachable('should be refused')
    } catch (e) {
      assert.instance(e, RefusedError)
      assert.is((e as RefusedError).exitCode, 3)
      assert.match(
        (e as Error).message,
        new RegExp(`--break-lock refuses: its holder, pid ${holder.pid} on this host .* is alive: .*stop pid ${holder.pid} first`),
      )
    }
    assert.is(JSON.parse(await cat('node-a', 'owner')).pid, holder.pid, 'the holder keeps its lock')
    holder.kill('SIGKILL')
    await new Promise((r) => holder.once('exit', r))
    const held = await acquireLock(pool, pair(), 'failover')
    assert.equal(held.broken, [], "a dead holder's lock is stale: taken without --break-lock, nothing to warn about")
    await held.release()
  } finally {
    holder.kill('SIGKILL')
    pool.close()
  }
})

test('--break-lock takes a live lock held on another host, with a warning naming the holder', async () => {
  const far = JSON.stringify({
    owner: 'ops@elsewhere pid 77',
    host: 'elsewhere.invalid',
    pid: 77,
    operation: 'failback',
    at: new Date().toISOString(),
    expires: new Date(Date.now() + 600_000).toISOString(),
    id: 'y',
  })
  await plant(far)
  const pool = new SshPool(lab.inv)
  const warned: string[] = []
  try {
    try {
      await acquireLock(pool, pair(), 'failover')
      assert.unreachable('should be refused')
    } catch (e) {
      assert.instance(e, RefusedError)
    }
    const held = await acquireLock(pool, pair(), 'failover', { breakLock: true, warn: (l) => warned.push(l) })
    assert.is(warned.length, 2, warned.join('\n'))
    for (const [i, n] of NODES.entries())
      assert.match(warned[i], new RegExp(`--break-lock took the lock on ${n} from ops@elsewhere pid 77 \\(failback, since .*\\), still live`))
    assert.equal(held.broken, warned)
    await held.release()
    assert.equal(await ls('node-a'), [])
  } finally {
    pool.close()
  }
})

test.run()
