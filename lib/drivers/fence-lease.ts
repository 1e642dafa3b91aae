// Fencing without a power-off API: lease self-fencing. The active node keeps its floating IPs and
// singletons only while its lease, renewed by the watcher, is fresh; its guard (lib/guard/script.ts)
// gives them up when the lease runs out. "Powering off" an unreachable node is waiting until its
// lease has certainly run out, and only the survivors' ledgers can say when that is:
//
//   deadline = highest deadline in any survivor's ledger + maxClockSkewMs + marginMs + guard poll
//
// A renewal reaches the active node only after a ledger took it, and no ledger takes one once the
// pair is locked, so after the failover's lock step nothing can move the deadline any more.
import { HapairError, RefusedError, RemoteError } from '../errors.ts'
import type { Node } from '../inventory/schema.ts'
import { playbookCommand } from '../hint.ts'
import { GUARD_POLL_MS } from '../guard/script.ts'
import {
  LEDGER_EXIT,
  ledgerReadScript,
  ledgerWriteScript,
  leaseRemoveScript,
  leaseWriteScript,
  parseLedger,
  type LedgerEntry,
  type LedgerState,
} from '../guard/lease.ts'
import { sessionRunner } from '../guard/runner.ts'
import { readGuardStatus, steppedDownForLease } from '../guard/status.ts'
import type { ActionResult, DriverContext, FenceDriver, PowerState } from './types.ts'

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export interface LeaseDeadline {
  /** When the node has certainly stepped down (controller clock, ms); undefined: cannot be known. */
  deadline?: number
  /** The highest deadline a renewer issued (from the ledgers). */
  lastUntil?: number
  /** Why there is no deadline. */
  why?: string
}

export class LeaseFenceDriver implements FenceDriver {
  readonly kind = 'lease'
  constructor(private readonly ctx: DriverContext) {}

  get leaseMs(): number {
    return this.ctx.pair.fencing?.lease?.leaseMs ?? 1000
  }
  get marginMs(): number {
    return this.ctx.pair.fencing?.lease?.marginMs ?? 300
  }
  get renewMs(): number {
    return this.ctx.pair.fencing?.lease?.renewMs ?? 200
  }
  get skewMs(): number {
    return this.ctx.pair.preconditions?.maxClockSkewMs ?? 500
  }
  /** From the highest issued deadline to the moment the node has certainly given everything up. */
  get watchdogMs(): number | undefined {
    return this.ctx.pair.fencing?.lease?.watchdog?.timeoutMs
  }
  /**
   * From the highest issued deadline to the moment the node has certainly given everything up: its
   * guard's poll and step-down (the margin), or, with a watchdog, its reset if the guard stalled
   * (the guard stops petting once its lease is out and it still holds something).
   */
  get graceMs(): number {
    return this.skewMs + Math.max(this.marginMs + GUARD_POLL_MS, this.watchdogMs ?? 0)
  }

  validate(): string[] {
    return this.renewMs >= this.leaseMs ? [`renewMs (${this.renewMs}) must be below leaseMs (${this.leaseMs}): the lease would run out between renewals`] : []
  }

  private session(n: Node) {
    return this.ctx.pool.session(this.ctx.pair, n)
  }
  private survivors(active: Node): Node[] {
    return this.ctx.pair.nodes.filter((n) => n.name !== active.name)
  }
  /**
   * Bounds every command of this driver: a write later than this is of no use to anyone (and still
   * safe: the ledger bounds it), and a node whose link died under an open connection reads as
   * unreachable after this instead of after the session's command timeout.
   */
  private get opTimeoutMs(): number {
    return Math.max(3000, this.leaseMs)
  }

  /** Writes the ledger on every survivor at once; how many took it, and why the others did not. */
  private async writeLedgers(
    active: Node,
    until: number,
    epoch: number,
    state: LedgerState,
  ): Promise<{ accepted: number; locked: string[]; failed: string[] }> {
    const out = { accepted: 0, locked: [] as string[], failed: [] as string[] }
    await Promise.all(
      this.survivors(active).map(async (n) => {
        try {
          const r = await sessionRunner(this.session(n), this.opTimeoutMs)(ledgerWriteScript(this.ctx.pair, active.name, until, epoch, state))
          if (r.code === 0) out.accepted++
          else if (r.code === LEDGER_EXIT.locked) out.locked.push(n.name)
          else out.failed.push(`${n.name}: ${r.code === LEDGER_EXIT.busy ? 'ledger busy' : `exit ${r.code}`}${r.stderr.trim() ? ` (${r.stderr.trim()})` : ''}`)
        } catch (e) {
          if (!(e instanceof RemoteError)) throw e
          out.failed.push(e.message)
        }
      }),
    )
    return out
  }

  private refuse(active: Node, what: string, w: { locked: string[]; failed: string[] }): never {
    if (w.locked.length)
      throw new RefusedError(
        `pair ${this.ctx.pair.name} is locked on ${w.locked.join(', ')} (a failover is under way): ${what} of ${active.name} refused${w.failed.length ? `; ${w.failed.join('; ')}` : ''}`,
      )
    const first = this.survivors(active)[0]
    throw new RemoteError(`no survivor's ledger took the ${what} of ${active.name}: ${w.failed.join('; ') || 'the pair has no other node'}`, {
      node: first?.name ?? active.name,
      host: first?.address ?? active.address,
      unreachable: true,
    })
  }

  /**
   * One renewal of the active node's lease, for the watcher: the survivors' ledgers first (at
   * least one must take it), then the lease on the active node, which must run a guard.
   */
  async renew(active: Node, epoch: number): Promise<{ until: number; ledgers: number }> {
    const until = Date.now() + this.leaseMs
    const w = await this.writeLedgers(active, until, epoch, 'armed')
    if (!w.accepted) this.refuse(active, 'lease renewal', w)
    const r = await sessionRunner(this.session(active), this.opTimeoutMs)(leaseWriteScript(this.ctx.pair, until, epoch, true))
    if (r.code !== 0) {
      const why = r.code === LEDGER_EXIT.guardDown ? 'no guard runs there' : `exit ${r.code}${r.stderr.trim() ? `: ${r.stderr.trim()}` : ''}`
      throw new RemoteError(`lease not renewed: ${why}`, { node: active.name, host: active.address, exitCode: r.code })
    }
    // Written is not renewed: a lease that had run out on arrival let the guard step down meanwhile.
    const late = Date.now() - until
    if (late > 0)
      throw new RemoteError(`lease renewed too late: it had run out ${late} ms before the write was confirmed (lease ${this.leaseMs} ms)`, {
        node: active.name,
        host: active.address,
      })
    return { until, ledgers: w.accepted }
  }

  /**
   * Manual operation (`watch pause`): the ledgers say disarmed, then the lease is removed, so the
   * guard leaves everything alone and no taker counts on a step-down any more.
   */
  async disarm(active: Node): Promise<{ ledgers: number }> {
    const w = await this.writeLedgers(active, 0, 0, 'disarmed')
    if (!w.accepted) this.refuse(active, 'disarming', w)
    await this.session(active).run({ script: leaseRemoveScript(this.ctx.pair) }, { timeoutMs: this.opTimeoutMs })
    return { ledgers: w.accepted }
  }

  /** When `active` has certainly stepped down, from the ledgers of every survivor (read under flock). */
  async deadline(active: Node): Promise<LeaseDeadline> {
    const survivors = this.survivors(active)
    const missing: string[] = []
    const entries: LedgerEntry[] = []
    await Promise.all(
      survivors.map(async (n) => {
        try {
          const r = await sessionRunner(this.session(n), this.opTimeoutMs)(ledgerReadScript(this.ctx.pair))
          if (r.code !== 0) {
            missing.push(`${n.name}: ledger unreadable (exit ${r.code})`)
            return
          }
          const e = parseLedger(r.stdout).get(active.name)
          if (e) entries.push(e)
        } catch (e) {
          if (!(e instanceof RemoteError)) throw e
          missing.push(e.message)
        }
      }),
    )
    // Every survivor must answer: the one that does not may hold the latest deadline.
    if (missing.length) return { why: `not every survivor's lease ledger could be read (${missing.join('; ')})` }
    if (!entries.length) return { why: `no lease was ever issued for ${active.name} (its guard is disarmed)` }
    if (entries.some((e) => e.state === 'disarmed')) return { why: `the lease of ${active.name} is disarmed (manual operation)` }
    const lastUntil = Math.max(...entries.map((e) => e.until))
    return { lastUntil, deadline: lastUntil + this.graceMs }
  }

  /** The watcher's view of deadline(): undefined when it cannot be known. */
  async expiresAt(active: Node): Promise<number | undefined> {
    return (await this.deadline(active)).deadline
  }

  /**
   * The node's own guard and the survivors' ledgers are asked at once. A guard that answers within
   * guardAnswerMs is believed (observation beats the ledger's record, both ways); one that does not
   * leaves the verdict to the ledgers: 'on' until the deadline, 'off' after. So a cut-off node,
   * whose answer would take a connect timeout, never delays the verdict.
   */
  async status(node: Node): Promise<PowerState> {
    const asked = Date.now()
    const guard = readGuardStatus(sessionRunner(this.session(node), this.opTimeoutMs), this.ctx.pair, node.name)
    guard.catch(() => undefined)
    const d = await this.deadline(node)
    const g = await Promise.race([guard, sleep(Math.max(0, this.guardAnswerMs - (Date.now() - asked))).then(() => undefined)])
    if (g?.reachable) return g.error ? 'unknown' : steppedDownForLease(g) ? 'off' : 'on'
    if (d.deadline === undefined) return 'unknown'
    return Date.now() > d.deadline ? 'off' : 'on'
  }
  /** How long status() waits for the node's own guard. */
  guardAnswerMs = 500

  /** Able to fence: a guard runs on every node that answers; for one that does not, the ledgers give its deadline. */
  async check(): Promise<string[]> {
    const pair = this.ctx.pair
    const problems: string[] = []
    await Promise.all(
      pair.nodes.map(async (n) => {
        const g = await readGuardStatus(sessionRunner(this.session(n), this.opTimeoutMs), pair, n.name)
        const fix = playbookCommand('guard', ['install', '--pair', pair.name, '--node', n.name])
        if (g.reachable) {
          if (g.error) problems.push(`pair ${pair.name} fencing ${n.name}: cannot read its lease guard: ${g.error}`)
          else if (!g.installed) problems.push(`pair ${pair.name} fencing ${n.name}: no lease guard installed (${fix})`)
          else if (!g.running) problems.push(`pair ${pair.name} fencing ${n.name}: its lease guard is not running (${fix})`)
          return
        }
        const d = await this.deadline(n)
        if (d.deadline === undefined) problems.push(`pair ${pair.name} fencing ${n.name}: unreachable, and it cannot be fenced by lease: ${d.why}`)
      }),
    )
    return problems.sort()
  }

  async stop(node: Node): Promise<ActionResult> {
    const g = await readGuardStatus(sessionRunner(this.session(node), this.opTimeoutMs), this.ctx.pair, node.name)
    if (g.reachable && !g.error) return this.expireNow(node)
    const started = Date.now()
    for (;;) {
      // Read again after each wait: without the pair's lock a renewal may have moved it.
      const d = await this.deadline(node)
      if (d.deadline === undefined) throw new HapairError(`cannot fence ${node.name} by lease: ${d.why}`)
      const now = Date.now()
      if (now > d.deadline) {
        const waited = now - started
        return {
          changed: waited > 0,
          detail: `${node.name} stepped down by lease (expired ${now - d.lastUntil!} ms ago${waited > 0 ? `, waited ${waited} ms` : ''})`,
        }
      }
      await sleep(d.deadline - now + 1)
    }
  }

  /** A reachable node: an expired lease makes its guard give everything up too (failover stops its services itself). */
  private async expireNow(node: Node): Promise<ActionResult> {
    const until = Date.now() - 1
    await this.session(node).run({ script: leaseWriteScript(this.ctx.pair, until, 0, false) }, { timeoutMs: this.opTimeoutMs })
    const end = Date.now() + this.graceMs + 2000
    while (Date.now() < end) {
      const g = await readGuardStatus(sessionRunner(this.session(node), this.opTimeoutMs), this.ctx.pair, node.name)
      if (steppedDownForLease(g))
        return {
          changed: true,
          detail: `${node.name} given an expired lease: its guard ${g.state!.word === 'stepped-down' ? 'stepped down' : 'found nothing to give up'}`,
        }
      if (!g.running) break
      await sleep(GUARD_POLL_MS)
    }
    return { changed: true, detail: `${node.name} given an expired lease (its guard has not confirmed the step-down)` }
  }

  async start(node: Node): Promise<ActionResult> {
    return { changed: false, detail: `${node.name}: lease fencing cannot power a node on; nothing to do` }
  }

  describe(action: 'start' | 'stop', node: Node): string[] {
    if (action === 'start') return [`${node.name}: lease fencing has no power-on; nothing to do`]
    const p = this.ctx.pair
    const gives = [
      ...(p.floatingIps ?? []).filter((f) => f.driver === 'linux').map((f) => f.address),
      ...(p.services ?? []).filter((s) => s.singleton).map((s) => s.name),
    ]
    const wd = this.watchdogMs
    const wait =
      wd === undefined
        ? `${this.marginMs} ms margin + ${GUARD_POLL_MS} ms guard poll`
        : `the longer of ${this.marginMs} ms margin + ${GUARD_POLL_MS} ms guard poll and the ${wd} ms watchdog timeout`
    return [
      `${node.name}: wait until its lease has certainly run out (highest deadline in the survivors' ledgers + ${this.skewMs} ms clock skew + ${wait}); its guard gives up ${gives.join(', ') || 'nothing'}${wd === undefined ? ' (no watchdog: a guard that stalls past the margin is not covered)' : ', or the watchdog resets the node'}`,
    ]
  }
}
