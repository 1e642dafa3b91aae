// keepalived as its users run it: one daemon per node, inside the node's namespaces, here in
// the foreground with console logging, so each state change reaches us the moment it is logged.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { SVC } from '../../lib/lab/index.ts'
import { holderPid, nodeExec, nodePaths, pidInNs } from '../../lib/lab/node.ts'
import type { NodePlan } from '../../lib/lab/plan.ts'
import { nodeEnv, run } from '../../lib/lab/proc.ts'
import { toolPath } from '../../lib/lab/tools.ts'
import { servedBy } from './poller.ts'
import { exitedWithin, sleep, track, untrack } from './proc.ts'
import type { BenchLab, System } from './trial.ts'

export const KEEPALIVED = '/usr/sbin/keepalived'

const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
  } catch {
    return ''
  }
}

export interface Timers {
  version: 2 | 3
  advertInt: number
}
export const SETUPS = {
  /** What a keepalived.conf gets without any timer line. */
  'keepalived-default': { version: 2, advertInt: 1 },
  /** The fastest common tuning: VRRPv3 allows sub-second adverts. */
  'keepalived-tuned': { version: 3, advertInt: 0.1 },
} satisfies Record<string, Timers>
export type KeepalivedSetup = keyof typeof SETUPS

export interface ConfOptions extends Timers {
  node: string
  state: 'MASTER' | 'BACKUP'
  priority: number
  iface: string
  vip: string
  prefix: number
  /** Unicast peering (src, peers); multicast (224.0.0.18) when omitted. */
  unicast?: { src: string; peers: string[] }
}

export function keepalivedConf(o: ConfOptions): string {
  const uni = o.unicast ? `  unicast_src_ip ${o.unicast.src}\n  unicast_peer {\n${o.unicast.peers.map((p) => `    ${p}\n`).join('')}  }\n` : ''
  return `# written by bench/watch: ${o.node}, VRRPv${o.version}, advert_int ${o.advertInt}
global_defs {
  router_id ${o.node}
  vrrp_version ${o.version}
}
vrrp_instance VI_BENCH {
  state ${o.state}
  interface ${o.iface}
  virtual_router_id 51
  priority ${o.priority}
  advert_int ${o.advertInt}
${uni}  virtual_ipaddress {
    ${o.vip}/${o.prefix} dev ${o.iface}
  }
}
`
}

export interface LogLine {
  ms: number
  text: string
}

/** One keepalived (parent plus its VRRP child) on one lab node. */
export class KeepalivedNode {
  readonly lines: LogLine[] = []
  private readonly waiters = new Set<() => void>()
  private readonly exited: Promise<void>
  private alive = true

  private constructor(
    readonly node: NodePlan,
    private readonly child: ChildProcess,
    private readonly vrrpPidFile: string,
  ) {
    track(child.pid!, `keepalived on ${node.name}`)
    let buf = ''
    const onData = (d: string) => {
      const ms = Date.now()
      buf += d
      let i
      while ((i = buf.indexOf('\n')) >= 0) {
        this.lines.push({ ms, text: buf.slice(0, i) })
        buf = buf.slice(i + 1)
      }
      for (const w of [...this.waiters]) w()
    }
    child.stdout!.setEncoding('utf8').on('data', onData)
    child.stderr!.setEncoding('utf8').on('data', onData)
    this.exited = new Promise((r) =>
      child.once('exit', () => {
        this.alive = false
        untrack(child.pid!)
        for (const w of [...this.waiters]) w()
        r()
      }),
    )
  }

  /** Config under the node's /var/lib/lab/keepalived, pid files next to it (host-visible, unlike the node's /run). */
  static start(n: NodePlan, conf: string): KeepalivedNode {
    const holder = holderPid(n)
    if (!holder) throw new Error(`${n.name} is powered off; cannot start keepalived there`)
    const hostDir = path.join(nodePaths(n).labDir, 'keepalived')
    mkdirSync(hostDir, { recursive: true })
    writeFileSync(path.join(hostDir, 'keepalived.conf'), conf)
    // /var/lib survives the lab's power cut, as /run would not on a real machine: a pid file left
    // by a killed daemon may name a live process now, and keepalived would refuse to start.
    for (const f of ['keepalived.pid', 'vrrp.pid']) rmSync(path.join(hostDir, f), { force: true })
    const dir = '/var/lib/lab/keepalived'
    const child = spawn(
      toolPath('nsenter'),
      [
        '-t',
        String(holder),
        '-n',
        '-m',
        '-u',
        '--',
        KEEPALIVED,
        '--dont-fork',
        '--log-console',
        '--log-detail',
        '--no-syslog',
        '--vrrp',
        '-f',
        `${dir}/keepalived.conf`,
        '-p',
        `${dir}/keepalived.pid`,
        '-r',
        `${dir}/vrrp.pid`,
      ],
      { env: nodeEnv(), cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] },
    )
    return new KeepalivedNode(n, child, path.join(hostDir, 'vrrp.pid'))
  }

  /** Epoch ms of the first line at or after sinceMs matching re; undefined after timeoutMs or once keepalived has exited. */
  waitLine(re: RegExp, sinceMs: number, timeoutMs: number): Promise<number | undefined> {
    const find = () => this.lines.find((l) => l.ms >= sinceMs && re.test(l.text))?.ms
    return new Promise((resolve) => {
      const check = () => {
        const ms = find()
        if (ms !== undefined || !this.alive) {
          this.waiters.delete(check)
          clearTimeout(t)
          resolve(ms)
        }
      }
      const t = setTimeout(() => {
        this.waiters.delete(check)
        resolve(find())
      }, timeoutMs)
      this.waiters.add(check)
      check()
    })
  }

  count(re: RegExp, sinceMs: number): number {
    return this.lines.filter((l) => l.ms >= sinceMs && re.test(l.text)).length
  }

  /** The last state keepalived logged ("MASTER", "BACKUP", "FAULT"), if any. */
  state(): string | undefined {
    for (let i = this.lines.length - 1; i >= 0; i--) {
      const m = /Entering (\w+) STATE/.exec(this.lines[i].text)
      if (m) return m[1]
    }
    return undefined
  }

  tail(n = 5): string {
    return this.lines
      .slice(-n)
      .map((l) => l.text)
      .join(' / ')
  }

  /** SIGTERM (after SIGCONT: a paused daemon would hold it pending), then SIGKILL; by pid only. */
  async stop(): Promise<void> {
    const vrrp = this.vrrpPid()
    if (this.alive) {
      const pid = this.child.pid!
      try {
        process.kill(pid, 'SIGCONT')
        process.kill(pid, 'SIGTERM')
      } catch {
        /* gone */
      }
      if (!(await exitedWithin(this.exited, 5000))) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {
          /* gone */
        }
        await exitedWithin(this.exited, 2000)
      }
    }
    // The parent stops its VRRP child on SIGTERM; after a SIGKILL the child may be left.
    if (vrrp && pidInNs(vrrp, this.node.ns) && cmdline(vrrp).includes('keepalived')) {
      try {
        process.kill(vrrp, 'SIGKILL')
      } catch {
        /* gone */
      }
      await sleep(20)
    }
  }

  private vrrpPid(): number | undefined {
    try {
      const pid = Number(readFileSync(this.vrrpPidFile, 'utf8').trim())
      return Number.isInteger(pid) && pid > 0 ? pid : undefined
    } catch {
      return undefined
    }
  }
}

export const MASTER = /Entering MASTER STATE/
const NOTABLE = /Entering \w+ STATE|received priority 0 advertisement/

/**
 * keepalived as a System: started afresh on both nodes for every run (node-a priority 150
 * MASTER, node-b 100 BACKUP, preemption on), so no run inherits a state from the one before.
 */
export function keepalivedSystem(lab: BenchLab, setup: KeepalivedSetup, opts: { unicast?: boolean } = {}): System {
  const t = SETUPS[setup]
  let a: KeepalivedNode | undefined
  let b: KeepalivedNode | undefined
  const conf = (n: NodePlan, peer: NodePlan, state: 'MASTER' | 'BACKUP', priority: number) =>
    keepalivedConf({
      ...t,
      node: n.name,
      state,
      priority,
      iface: n.iface,
      vip: lab.vip,
      prefix: lab.prefix,
      unicast: opts.unicast ? { src: n.address, peers: [peer.address] } : undefined,
    })
  /** Master-down interval, VRRP's own figure: 3 adverts plus the skew of priority 100. */
  const masterDownMs = (3 + (256 - 100) / 256) * t.advertInt * 1000
  const stopBoth = async () => {
    await Promise.all([a?.stop(), b?.stop()])
    a = b = undefined
    // keepalived owns the VIP while it runs; a SIGKILLed one leaves it behind.
    for (const n of [lab.a, lab.b]) await run('ip', ['-n', n.ns, 'addr', 'del', `${lab.vip}/${lab.prefix}`, 'dev', n.iface])
  }
  return {
    name: setup,
    async arm() {
      // The lab (or hapair's failback) put the VIP on node-a, and hapair's fence stops web on the
      // standby: keepalived moves only an address, so web must already run on both nodes.
      await stopBoth()
      for (const n of [lab.a, lab.b]) {
        const r = await nodeExec(n, [SVC, 'start', 'web'])
        if (r.code !== 0) throw new Error(`${n.name}: svc start web: ${(r.stderr || r.stdout).trim()}`)
      }
      const since = Date.now()
      a = KeepalivedNode.start(lab.a, conf(lab.a, lab.b, 'MASTER', 150))
      b = KeepalivedNode.start(lab.b, conf(lab.b, lab.a, 'BACKUP', 100))
      if ((await a.waitLine(MASTER, since, masterDownMs + 10_000)) === undefined)
        throw new Error(`keepalived on ${lab.a.name} never became MASTER: ${a.tail()}`)
      if ((await servedBy(lab.vip, lab.a.name, 10_000)) === undefined) throw new Error(`keepalived MASTER ${lab.a.name} does not serve ${lab.vip}`)
      // Steady state: the backup has heard several adverts since the master took over.
      await sleep(Math.max(1000, 3 * t.advertInt * 1000))
      if (b.state() !== 'BACKUP') throw new Error(`keepalived on ${lab.b.name} is ${b.state() ?? 'silent'}, not BACKUP, before the fault: ${b.tail()}`)
    },
    detected: (t0, limitMs) => b!.waitLine(MASTER, t0, limitMs),
    takeovers: (t0) => b?.count(MASTER, t0) ?? 0,
    async recover(restore) {
      // Heal first: a paused daemon cannot act on SIGTERM, and node-a's return (preemption) is
      // part of what keepalived does anyway.
      await restore()
      await stopBoth()
    },
    close: stopBoth,
    // State changes, and priority-0 adverts: a master that said goodbye was not cut off.
    detail: (t0) =>
      [a, b].flatMap(
        (k) =>
          k?.lines.filter((l) => l.ms >= t0 && NOTABLE.test(l.text)).map((l) => ({ node: k.node.name, what: NOTABLE.exec(l.text)![0], ms: l.ms - t0 })) ?? [],
      ),
  }
}
