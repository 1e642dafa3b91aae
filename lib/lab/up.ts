// Building the lab, one timed step at a time. A failed `up` removes what it built, so the
// next attempt (or a test) starts from nothing.
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { HapairError } from '../errors.ts'
import type { LoadedInventory } from '../inventory/load.ts'
import { seedNode, makeBackup, utcStamp } from './data.ts'
import { teardown } from './down.ts'
import { makeKeys } from './keys.ts'
import { addFloating, createBridge, createControllerLink, createNodeNet, refuseOverlap } from './net.ts'
import { nodeExec, nodePaths, sshdConfig, startHolder, startSshd } from './node.ts'
import { labPlan, type LabPlan, type NodePlan } from './plan.ts'
import { waitReady } from './ready.ts'
import { installServices, SVC } from './services.ts'
import { installLabGuards } from './guard.ts'
import { buildLabPostgres } from './postgres.ts'
import { stateFromPlan, writeState } from './state.ts'
import { requireLabHost } from './tools.ts'
import { checkLoginUser, NODE_AUTHORIZED_KEYS, writeLoginUser } from './login-user.ts'

export interface LabOptions {
  /** One line per step (the CLI prints them); silent when omitted. */
  log?: (line: string) => void
}

export interface LabUpResult {
  lab: string
  subnet: string
  controller: string
  nodes: string[]
  ms: number
}

/** Starts the node's services: every non-singleton, and the singletons only where asked. */
export async function startLabServices(n: NodePlan, singletons: boolean): Promise<string[]> {
  const started: string[] = []
  for (const s of n.services) {
    if (s.singleton && !singletons) continue
    // PostgreSQL is built and started by the postgres step (and by failover and rejoin after that).
    if (s.postgresql) continue
    const r = await nodeExec(n, [SVC, 'start', s.name])
    if (r.code !== 0) throw new HapairError(`${n.name}: svc start ${s.name} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`)
    started.push(s.name)
  }
  return started
}

/** Holder, then sshd: the node "boots". */
export async function bootNode(n: NodePlan): Promise<void> {
  const holder = await startHolder(n)
  await startSshd(n, holder)
}

/** A bastion's files: the directories its holder mounts, and its sshd's config; no data, no services. */
function prepareBastion(b: NodePlan, authorizedKeys: string): void {
  const p = nodePaths(b)
  for (const d of [p.srv, p.backups, p.log, p.lib, p.home]) mkdirSync(d, { recursive: true, mode: 0o700 })
  writeFileSync(p.sshdConfig, sshdConfig(b, authorizedKeys))
}

function prepareNode(n: NodePlan, authorizedKeys: string, shared: { secret: string; stamp: string }): void {
  const p = nodePaths(n)
  // Its own /root too: a node's login shell must not read the controller's rc files (this
  // machine's runs pyenv init, ~100 ms on every SSH command).
  for (const d of [p.srv, p.backups, p.log, p.lib, p.home]) mkdirSync(d, { recursive: true, mode: 0o700 })
  seedNode(n, shared)
  installServices(n)
  if (n.login) writeLoginUser(n, n.login, authorizedKeys)
  // sshd reads the keys as the user logging in, who may not reach the lab's state dir.
  writeFileSync(p.sshdConfig, sshdConfig(n, n.login ? NODE_AUTHORIZED_KEYS : authorizedKeys))
}

export async function labUp(inv: LoadedInventory, opts: LabOptions = {}): Promise<LabUpResult> {
  requireLabHost()
  const plan: LabPlan = labPlan(inv)
  for (const n of plan.nodes) if (n.login) checkLoginUser(inv.file, n.name, n.login)
  const log = opts.log ?? (() => {})
  const t0 = Date.now()
  const step = async <T>(label: string, fn: () => Promise<T> | T, detail: (r: T) => string): Promise<T> => {
    const t = Date.now()
    const r = await fn()
    log(`${label.padEnd(9)} ${detail(r)} (${Date.now() - t} ms)`)
    return r
  }
  for (const w of plan.warnings) log(`warning: ${w}`)

  await step(
    'clean',
    () => teardown(inv, plan),
    (r) => (r.length ? `removed a stale lab ${plan.lab}: ${r.join(', ')}` : 'nothing stale'),
  )
  await step(
    'check',
    () => refuseOverlap(plan),
    () => `nothing on this machine overlaps ${plan.subnet}`,
  )
  writeState(stateFromPlan(plan, inv.file, !existsSync('/run/netns')))
  try {
    await step(
      'network',
      async () => {
        await createBridge(plan)
        await Promise.all([...plan.nodes, ...plan.bastions].map((n) => createNodeNet(plan, n)))
        await createControllerLink(plan)
      },
      () =>
        `${plan.bridgeNs} (br0), ${[...plan.nodes, ...plan.bastions].map((n) => `${n.ns} ${n.address}/${n.prefix}`).join(', ')}, controller ${plan.rootVeth} ${plan.controller}/${plan.prefix}`,
    )
    const keys = await step(
      'keys',
      () => makeKeys(plan),
      () => `controller key, ${plan.nodes.length + plan.bastions.length} host keys and node keys; pins in ${plan.knownHostsFile}`,
    )
    const shared = { secret: randomBytes(32).toString('hex'), stamp: utcStamp() }
    await step(
      'files',
      () => {
        plan.nodes.forEach((n) => prepareNode(n, keys.authorizedKeys, shared))
        plan.bastions.forEach((b) => prepareBastion(b, keys.bastionAuthorizedKeys))
      },
      () => `/srv, /var/lib, /var/log, /var/backups of each node under ${plan.stateDir}/nodes`,
    )
    await step(
      'boot',
      () => Promise.all([...plan.nodes, ...plan.bastions].map(bootNode)),
      () => `sshd on ${[...plan.nodes, ...plan.bastions].map((n) => `${n.address}:${n.sshPort}`).join(', ')}`,
    )
    await step(
      'postgres',
      () => buildLabPostgres(inv, plan),
      (r) => r,
    )
    await step(
      'services',
      () => Promise.all(plan.nodes.map((n) => startLabServices(n, n.primary))),
      (r) => plan.nodes.map((n, i) => `${n.name}: ${r[i].join(' ') || 'none'}`).join(', '),
    )
    await step(
      'backups',
      () => Promise.all(plan.nodes.map((n) => makeBackup(n, shared.stamp))),
      (r) => `${r[0]} on each node`,
    )
    await step(
      'vips',
      () =>
        Promise.all(
          plan.floating.map((f) => {
            const holder = plan.nodes.find((n) => n.name === f.holder)!
            return addFloating(holder.ns, f.iface, f.address, f.prefix)
          }),
        ),
      () => plan.floating.map((f) => `${f.address}/${f.prefix} on ${f.holder}`).join(', ') || 'none',
    )
    await step(
      'guards',
      () => installLabGuards(inv, plan),
      (r) => r,
    )
    await step(
      'ready',
      () => waitReady([...plan.nodes, ...plan.bastions], (n) => n.primary),
      () => `sshd and services answer from the controller${plan.bastions.length ? `; bastion ${plan.bastions.map((b) => b.name).join(', ')} too` : ''}`,
    )
  } catch (e) {
    log(`up failed (${(e as Error).message}); removing what was built`)
    await teardown(inv, plan).catch(() => {})
    throw e
  }
  const ms = Date.now() - t0
  log(`lab ${plan.lab} up in ${(ms / 1000).toFixed(1)} s`)
  return { lab: plan.lab, subnet: plan.subnet, controller: plan.controller, nodes: plan.nodes.map((n) => n.name), ms }
}
