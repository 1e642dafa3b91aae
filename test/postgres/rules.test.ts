// Pure parts of lib/postgres and the failover rules: WAL positions, pg_controldata and probe
// parsing, libpq/postgresql.conf quoting, the preflight rules, and the inventory's semantic rules.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { lagBytes, parseLsn, formatLsn, lsnMax } from '../../lib/postgres/lsn.ts'
import { parseControlData, shutDownAsPrimary } from '../../lib/postgres/controldata.ts'
import { parseProbe, type PgState } from '../../lib/postgres/state.ts'
import { conninfo, confString, pgSettings, slotName, syncStandbyNames } from '../../lib/postgres/config.ts'
import { pgTargetRules } from '../../lib/failover/postgres-step.ts'
import { inventoryProblems } from '../../lib/inventory/validate.ts'
import { labPgService } from '../../lib/lab/postgres.ts'

test('WAL positions: parse, format, lag in bytes beyond 2^53, never negative', () => {
  assert.is(parseLsn('0/3000060'), 0x3000060n)
  assert.is(parseLsn('16/B374D848'), (0x16n << 32n) | 0xb374d848n)
  assert.is(formatLsn(parseLsn('16/B374D848')), '16/B374D848')
  assert.is(lagBytes('1/0', '0/FFFFFFFF'), 1n)
  assert.is(lagBytes('0/10', '0/20'), 0n)
  assert.is(lagBytes('FFFFFFFF/FFFFFFFF', '0/0'), 2n ** 64n - 1n)
  assert.is(lsnMax(['0/5', '1/0', '0/FFFFFFFF']), '1/0')
  assert.throws(() => parseLsn('0/3000060; drop table t'))
})

const CONTROL = `pg_control version number:            1300
Database cluster state:               shut down
Latest checkpoint location:           0/C260A8
Latest checkpoint's REDO location:    0/C260A8
Latest checkpoint's TimeLineID:       3
Minimum recovery ending location:     0/0
wal_log_hints setting:                on
Data page checksum version:           0
`
test('pg_controldata: a clean primary shutdown, its checkpoint and timeline', () => {
  const c = parseControlData(CONTROL)!
  assert.is(c.state, 'shut down')
  assert.is(c.checkpoint, '0/C260A8')
  assert.is(c.timeline, 3)
  assert.is(c.walLogHints, true)
  assert.is(c.checksums, false)
  assert.ok(shutDownAsPrimary(c))
  assert.not.ok(shutDownAsPrimary(parseControlData(CONTROL.replace('shut down', 'shut down in recovery'))))
  assert.not.ok(shutDownAsPrimary(parseControlData(CONTROL.replace('shut down', 'in production'))))
  assert.is(parseControlData('pg_controldata: error: could not open file'), undefined)
})

test('probe output: standby, primary, down, and a server that does not answer SQL', () => {
  const standby = parseProbe(
    `json {"recovery":true,"flush":null,"walfile":null,"receive":"0/C26120","replay":"0/C26120","paused":false,"receiver":{"status":"streaming","host":"198.51.100.11","tli":2,"latestEnd":"0/C26120","age":0.5},"replicas":[],"slots":[],"ckptTli":1,"walLogHints":"on","checksums":"off","syncNames":""}\n--control\n${CONTROL}`,
  )
  assert.is(standby.role, 'standby')
  assert.is(standby.timeline, 2)
  assert.is(standby.receiver?.status, 'streaming')
  const primary = parseProbe(
    `json {"recovery":false,"flush":"0/C30000","walfile":"0000000300000000000000C3","receive":null,"replay":null,"paused":null,"receiver":null,"replicas":[{"name":"node-b","state":"streaming","sync":"sync","flush":"0/C30000","replay":"0/C30000","addr":"198.51.100.12"}],"slots":[{"name":"hapair_node_b","active":true,"restart":"0/C20000"}],"ckptTli":3,"walLogHints":"on","checksums":"off","syncNames":"FIRST 1 (\\"node-b\\")"}\n--control\n${CONTROL}`,
  )
  assert.is(primary.role, 'primary')
  assert.is(primary.timeline, 3)
  assert.is(primary.replicas[0].sync, 'sync')
  assert.is(primary.slots[0].name, 'hapair_node_b')
  const down = parseProbe(`down\n--control\n${CONTROL}`)
  assert.is(down.role, 'down')
  assert.is(down.control?.checkpoint, '0/C260A8')
  assert.is(parseProbe(`sqlerr psql: error: FATAL: the database system is starting up\n--control\n`).role, 'unknown')
})

test('quoting: libpq values, postgresql.conf strings, standby names; slot names', () => {
  assert.is(conninfo({ host: '198.51.100.11', port: 5432, passfile: "/var/lib/x y/it's" }), "host=198.51.100.11 port=5432 passfile='/var/lib/x y/it\\'s'")
  assert.is(confString("host=a passfile='b'"), "'host=a passfile=''b'''")
  assert.is(syncStandbyNames(['node-a', 'n"x']), 'FIRST 1 ("node-a", "n""x")')
  assert.is(syncStandbyNames([]), '')
  assert.is(slotName(pgSettings(labPgService().postgresql!), 'node-b.x'), 'hapair_node_b_x')
})

const pg = pgSettings(labPgService('async', { maxLagBytes: 1000 }).postgresql!)
const sync = pgSettings(labPgService('sync').postgresql!)
const S = (x: Partial<PgState>): PgState => ({ role: 'standby', running: true, replicas: [], slots: [], ...x })
const streamingB = S({ receive: '0/2000', replay: '0/2000', receiver: { status: 'streaming', host: 'a', timeline: 1, latestEnd: '0/2000', latestEndAgeS: 0 } })

test('preflight rules, old primary up: streaming and within maxLagBytes, else refused', () => {
  const primary = S({ role: 'primary', flush: '0/2100' })
  assert.equal(pgTargetRules(pg, 'b', { a: primary, b: streamingB }, 'a').problems, [])
  assert.match(pgTargetRules(pg, 'b', { a: S({ role: 'primary', flush: '0/3000' }), b: streamingB }, 'a').problems.join(), /lags a by 4096 bytes/)
  assert.match(
    pgTargetRules(pg, 'b', { a: primary, b: S({ ...streamingB, receiver: { ...streamingB.receiver!, status: 'waiting' } }) }, 'a').problems.join(),
    /not streaming/,
  )
  assert.match(pgTargetRules(pg, 'b', { a: primary, b: S({ ...streamingB, receiver: undefined }) }, 'a').problems.join(), /not streaming .*not running/)
  assert.match(pgTargetRules(pg, 'b', { a: primary, b: { ...streamingB, replayPaused: true } }, 'a').problems.join(), /replay paused/)
  assert.match(pgTargetRules(pg, 'b', { a: primary, b: S({ role: 'down', running: false }) }, 'a').problems.join(), /not running/)
  assert.equal(pgTargetRules(pg, 'b', { a: primary, b: S({ role: 'primary' }) }, 'a').problems, [], 'a resumed run: already promoted')
})

test('preflight rules, old primary unreachable: sync promotes the standby with the most WAL; async only within maxLagBytes', () => {
  assert.equal(pgTargetRules(sync, 'b', { b: streamingB }, 'a').problems, [])
  assert.match(pgTargetRules(sync, 'b', { b: streamingB, c: S({ receive: '0/3000' }) }, 'a').problems.join(), /c \(0\/3000\) received more/)
  assert.equal(pgTargetRules(pg, 'b', { b: streamingB }, 'a').problems, [])
  assert.match(
    pgTargetRules(pg, 'b', { b: { ...streamingB, receiver: { ...streamingB.receiver!, latestEnd: '0/3000' } } }, 'a').problems.join(),
    /lacks 4096 bytes/,
  )
  assert.match(pgTargetRules(pg, 'b', { b: S({ receive: '0/2000', replay: '0/2000' }) }, 'a').problems.join(), /cannot be measured/)
})

test('preflight rules, old primary reachable but down: a crash (no clean shutdown) is refused', () => {
  const crashed = S({ role: 'down', running: false, control: { state: 'in production', checkpoint: '0/100' } })
  assert.match(pgTargetRules(pg, 'b', { a: crashed, b: streamingB }, 'a').problems.join(), /without a clean shutdown/)
  const clean = S({ role: 'down', running: false, control: { state: 'shut down', checkpoint: '0/1000' } })
  assert.equal(pgTargetRules(pg, 'b', { a: clean, b: streamingB }, 'a').problems, [])
})

const lab = JSON.parse(readFileSync(new URL('../../inventory/lab.json', import.meta.url), 'utf8'))
function withDb(fn: (db: any, pair: any) => void) {
  const inv = structuredClone(lab)
  const pair = inv.pairs[0]
  pair.services = pair.services.map((s: any) => (s.name === 'db' ? labPgService('sync') : s))
  fn(
    pair.services.find((s: any) => s.name === 'db'),
    pair,
  )
  return inventoryProblems(inv).map((p) => `${p.path}: ${p.message}`)
}

test('inventory: a postgresql service validates, and its rules are enforced', () => {
  assert.equal(
    withDb(() => {}),
    [],
  )
  assert.match(
    withDb((db) => {
      db.singleton = false
    }).join('\n'),
    /services\/1\/singleton: a postgresql service must be "singleton": true/,
  )
  assert.match(
    withDb((db) => {
      db.postgresql.dataDir = 'var/lib/pg'
    }).join('\n'),
    /postgresql\/dataDir: must be an absolute path/,
  )
  assert.match(
    withDb((db) => {
      db.postgresql.dataDir = '/var/lib'
    }).join('\n'),
    /dataDir: must be the cluster's own directory/,
  )
  assert.match(
    withDb((db) => {
      db.postgresql.dataDir = '/srv/app/pg'
    }).join('\n'),
    /dataDir: overlaps sync item "app"/,
  )
  assert.match(
    withDb((db) => {
      db.postgresql.passwordFile = '/var/lib/postgresql/15/lab/pass'
    }).join('\n'),
    /passwordFile: must be outside the data directory/,
  )
  assert.match(
    withDb((db) => {
      db.postgresql.mode = 'semi'
    }).join('\n'),
    /mode: must be one of "sync", "async"/,
  )
  assert.match(
    withDb((db) => {
      db.postgresql.maxLagBytes = -1
    }).join('\n'),
    /maxLagBytes/,
  )
  assert.match(
    withDb((db, pair) => {
      pair.services.push({ ...structuredClone(db), name: 'db2' })
    }).join('\n'),
    /services\/2\/postgresql: a pair holds one PostgreSQL cluster/,
  )
})

test.run()
