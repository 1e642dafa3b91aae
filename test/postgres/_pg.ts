// Shared by the PostgreSQL lab tests: probes per node, "exactly one primary", in-process failover.
import * as assert from 'uvu/assert'
import type { TestLab } from '../helpers/lab.ts'
import { SshPool } from '../../lib/ssh.ts'
import { runFailover, type FailoverOptions } from '../../lib/failover/run.ts'
import { pgService, pgSettings } from '../../lib/postgres/config.ts'
import { probePg, type PgState } from '../../lib/postgres/state.ts'
import { sessionExec } from '../../lib/postgres/exec.ts'
import { PgConn } from './_client.ts'

export const vipOf = (lab: TestLab) => lab.inv.data.pairs[0].floatingIps![0].address

export async function withPool<T>(lab: TestLab, fn: (pool: SshPool) => Promise<T>): Promise<T> {
  const pool = new SshPool(lab.inv)
  try {
    return await fn(pool)
  } finally {
    pool.close()
  }
}

/** Every node's PostgreSQL (a powered-off node: undefined). */
export async function states(lab: TestLab): Promise<Record<string, PgState | undefined>> {
  const pair = lab.inv.data.pairs[0]
  const pg = pgSettings(pgService(pair)!.postgresql)
  return withPool(lab, async (pool) => {
    const out: Record<string, PgState | undefined> = {}
    await Promise.all(
      pair.nodes.map(async (n) => {
        try {
          out[n.name] = await probePg(sessionExec(pool.session(pair, n)), pg)
        } catch {
          out[n.name] = undefined
        }
      }),
    )
    return out
  })
}

/** Exactly one primary (`primary`), every other node streaming from it. */
export async function assertOnePrimaryStreaming(lab: TestLab, primary: string): Promise<void> {
  const st = await states(lab)
  const primaries = Object.entries(st)
    .filter(([, s]) => s?.role === 'primary')
    .map(([n]) => n)
  assert.equal(primaries, [primary], `exactly one primary, ${primary}: got [${primaries}]`)
  for (const [n, s] of Object.entries(st)) {
    if (n === primary) continue
    assert.is(s?.role, 'standby', `${n} is a standby`)
    assert.is(s?.receiver?.status, 'streaming', `${n} streams (receiver ${s?.receiver?.status})`)
    assert.ok(
      st[primary]!.replicas.some((r) => r.name === n && r.state === 'streaming'),
      `${primary} sees ${n} streaming`,
    )
  }
}

export const failover = (lab: TestLab, to: string, o: Partial<FailoverOptions> = {}) =>
  withPool(lab, (pool) => runFailover(lab.inv, pool, lab.inv.data.pairs[0], { operation: 'failover', to, ...o }))

export async function sql(host: string, q: string): Promise<string[][]> {
  const c = await PgConn.connect({ host, user: 'app', database: 'app', timeoutMs: 2000 })
  try {
    return (await c.query(q, 10000)).rows
  } finally {
    c.close()
  }
}

/** Acknowledged rows missing from the table now (read through the floating IP). */
export async function missing(host: string, table: string, acked: { n: number }[]): Promise<number[]> {
  const have = new Set((await sql(host, `select n from ${table}`)).map((r) => Number(r[0])))
  return acked.map((a) => a.n).filter((n) => !have.has(n))
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN
}
