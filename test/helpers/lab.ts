// Gives an integration test its own real lab pair, so several test files (and the demo lab)
// can run on this machine at once: inventory/lab.json is copied into a temp dir and moved to a
// free /27 slot k (1..7) of 198.51.100.0/24, lab name t<k>. The demo lab is slot 0.
//
//   let lab: TestLab
//   test.before(async () => { lab = await startTestLab() })
//   test.after(async () => { await lab?.down() })      // always: runs even when a test fails
//
// Start labs in test.before, not at the top level: uvu imports every test file before running
// any, so top-level labs would all be up at once and hold every slot.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadInventory, sshSettings, nodeByName, type LoadedInventory } from '../../lib/inventory/load.ts'
import { labDown, labExec, labUp, type ProcResult } from '../../lib/lab/index.ts'
import { relocateInventory, SLOTS } from '../../lib/lab/plan.ts'
import { holdsAddress } from '../../lib/drivers/ip-linux.ts'
import http from 'node:http'
import { requireLabHost } from '../../lib/lab/tools.ts'

export const SLOT_DIR = '/run/hapair-lab-slots'
const root = fileURLToPath(new URL('../..', import.meta.url))

export interface TestLab {
  inv: LoadedInventory
  /** The relocated inventory file (in its own temp dir). */
  file: string
  slot: number
  /** Runs argv on a node (its network and mount namespaces); output captured. */
  exec(node: string, argv: string[], opts?: { input?: string; timeoutMs?: number }): Promise<ProcResult>
  /** Arguments for the system ssh client to reach a node as the controller, host key pinned. */
  sshArgs(node: string): string[]
  /** Nodes whose interface holds `address` now, in inventory order (a powered-off node holds nothing). */
  holders(address: string): Promise<string[]>
  /** Like exec, but a powered-off node (the lab refuses to exec there) answers code -1 instead of throwing. */
  tryExec(node: string, argv: string[]): Promise<ProcResult>
  /** Nodes where the lab service `name` runs now, in inventory order. */
  runningOn(name: string): Promise<string[]>
  /** Removes the lab, its temp dir and its slot. Idempotent. */
  down(): Promise<void>
}

const rand = () => Math.random().toString(36).slice(2, 10)
const slotPath = (k: number) => path.join(SLOT_DIR, String(k))

/** Process start time (clock ticks since boot): tells a live owner from a recycled pid. */
function startTime(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[19]
  } catch {
    return undefined
  }
}
const ME = `${process.pid} ${startTime(process.pid)}`

function ownerAlive(owner: string): boolean {
  const [pid, start] = owner.trim().split(/\s+/)
  return startTime(Number(pid)) !== undefined && startTime(Number(pid)) === start
}

/** Renames first (atomic, one winner), deletes after: never deletes a slot someone just claimed. */
function discard(p: string): boolean {
  const trash = path.join(SLOT_DIR, `.trash-${process.pid}-${rand()}`)
  try {
    renameSync(p, trash)
  } catch {
    return false
  }
  rmSync(trash, { recursive: true, force: true })
  return true
}

export function tryClaim(k: number, file: string, reclaim = true): boolean {
  mkdirSync(SLOT_DIR, { recursive: true })
  // Built complete under a private name, then renamed into place: a slot is never seen half-made.
  const tmp = path.join(SLOT_DIR, `.claim-${process.pid}-${rand()}`)
  mkdirSync(tmp)
  writeFileSync(path.join(tmp, 'owner'), `${ME}\n`)
  writeFileSync(path.join(tmp, 'inventory'), `${file}\n`)
  try {
    renameSync(tmp, slotPath(k))
    return true
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true })
    if (!['ENOTEMPTY', 'EEXIST'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e
  }
  if (!reclaim) return false
  let owner: string
  let oldFile: string
  try {
    owner = readFileSync(path.join(slotPath(k), 'owner'), 'utf8')
    oldFile = readFileSync(path.join(slotPath(k), 'inventory'), 'utf8').trim()
  } catch {
    return false
  }
  if (ownerAlive(owner)) return false
  if (!discard(slotPath(k))) return false
  // Its owner died without `down`: remove its lab while we still know its inventory.
  if (existsSync(oldFile)) {
    spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'playbooks/lab.ts'), 'down', '--inventory', oldFile], {
      cwd: root,
      stdio: 'ignore',
      timeout: 60_000,
    })
    if (path.basename(path.dirname(oldFile)).startsWith('hapair-lab-')) rmSync(path.dirname(oldFile), { recursive: true, force: true })
  }
  return tryClaim(k, file, false)
}

export function releaseSlot(k: number): void {
  try {
    if (readFileSync(path.join(slotPath(k), 'owner'), 'utf8').trim() === ME) discard(slotPath(k))
  } catch {
    /* already released */
  }
}

async function claimSlot(file: string, timeoutMs = 120_000): Promise<number> {
  const end = Date.now() + timeoutMs
  for (;;) {
    let mine = 0
    for (let k = 1; k <= SLOTS; k++) {
      if (tryClaim(k, file)) return k
      try {
        if (readFileSync(path.join(slotPath(k), 'owner'), 'utf8').trim() === ME) mine++
      } catch {
        /* free again */
      }
    }
    if (mine === SLOTS) throw new Error(`all ${SLOTS} lab slots are held by this process: start labs in test.before and down() them in test.after`)
    if (Date.now() > end) throw new Error(`no free lab slot in ${SLOT_DIR} after ${timeoutMs / 1000} s (other test runs hold all ${SLOTS})`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

// Safety net for labs whose test never reached test.after (crash, process.exit, Ctrl-C):
// one exit handler for all of them, synchronous because 'exit' allows nothing else.
const live = new Map<string, () => void>()
let netInstalled = false
function installSafetyNet(): void {
  if (netInstalled) return
  netInstalled = true
  process.on('exit', () => {
    for (const stop of [...live.values()]) stop()
  })
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(sig === 'SIGINT' ? 130 : 143))
}

/** The lab's fake db: a singleton whose TCP check answers with its node's name (lib/lab/server.mjs). */
export const FAKE_DB = {
  name: 'db',
  singleton: true,
  start: '/var/lib/lab/bin/svc start db',
  stop: '/var/lib/lab/bin/svc stop db',
  status: '/var/lib/lab/bin/svc status db',
  checks: [
    { protocol: 'tcp', port: 5432, send: 'ping\n', expect: '{node}', timeoutMs: 2000 },
    { protocol: 'command', command: '/var/lib/lab/bin/svc status db' },
  ],
}

/** The non-root login user of a `become` lab; the lab creates it on each node with its sudoers rule. */
export const LAB_LOGIN_USER = 'hapair'

/**
 * postgres: keep the demo's PostgreSQL db (test/postgres/_lab.ts).
 * become: the inventory logs in as LAB_LOGIN_USER with ssh.become sudo instead of as root.
 */
export async function startTestLab(
  opts: { mutate?: (inventoryJson: any) => void; log?: (line: string) => void; postgres?: boolean; become?: boolean } = {},
): Promise<TestLab> {
  requireLabHost()
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hapair-lab-'))
  const file = path.join(dir, 'lab.json')
  let slot: number
  try {
    slot = await claimSlot(file)
  } catch (e) {
    rmSync(dir, { recursive: true, force: true })
    throw e
  }

  let done = false
  const forget = () => {
    done = true
    live.delete(file)
    rmSync(dir, { recursive: true, force: true })
    releaseSlot(slot)
  }
  installSafetyNet()
  live.set(file, () => {
    if (done) return
    spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'playbooks/lab.ts'), 'down', '--inventory', file], {
      cwd: root,
      stdio: 'ignore',
      timeout: 60_000,
    })
    forget()
  })

  let inv: LoadedInventory
  try {
    // mutate sees the demo inventory (slot 0 addresses); relocation moves whatever it adds too.
    const json = JSON.parse(readFileSync(path.join(root, 'inventory/lab.json'), 'utf8'))
    // The demo's db is real PostgreSQL; tests that are not about it get the lab's fake db (a
    // singleton answering with its node's name), which starts in milliseconds.
    if (!opts.postgres) json.pairs[0].services = json.pairs[0].services.map((s: { name: string }) => (s.name === 'db' ? FAKE_DB : s))
    if (opts.become) json.defaults.ssh = { ...json.defaults.ssh, user: LAB_LOGIN_USER, become: 'sudo' }
    opts.mutate?.(json)
    writeFileSync(file, JSON.stringify(relocateInventory(json, slot), null, 2) + '\n')
    inv = loadInventory(file)
    await labUp(inv, { log: opts.log })
  } catch (e) {
    if (existsSync(file)) await labDown(loadInventory(file)).catch(() => {})
    forget()
    throw e
  }

  const tryExec = (node: string, argv: string[]): Promise<ProcResult> =>
    labExec(inv, node, argv).catch((e) => ({ code: -1, stdout: '', stderr: (e as Error).message }))
  return {
    inv,
    file,
    slot,
    exec: (node, argv, o) => labExec(inv, node, argv, o),
    async holders(address) {
      const out: string[] = []
      for (const { nodes } of inv.data.pairs)
        for (const n of nodes) {
          // The lab refuses to exec on a powered-off node: it holds no address.
          const r = await labExec(inv, n.name, ['ip', '-o', 'addr', 'show', 'dev', n.interface ?? 'eth0']).catch(() => undefined)
          if (r?.code === 0 && holdsAddress(r.stdout, address)) out.push(n.name)
        }
      return out
    },
    tryExec: (node, argv) => tryExec(node, argv),
    async runningOn(name) {
      const out: string[] = []
      for (const { nodes } of inv.data.pairs)
        for (const n of nodes) {
          if ((await tryExec(n.name, ['/var/lib/lab/bin/svc', 'status', name])).code === 0) out.push(n.name)
        }
      return out
    },
    sshArgs(node) {
      const { pair, node: n } = nodeByName(inv, node)
      const s = sshSettings(inv, pair, n)
      return [
        '-F',
        '/dev/null',
        '-i',
        s.keyFile!,
        '-o',
        'IdentitiesOnly=yes',
        '-o',
        `UserKnownHostsFile=${s.knownHostsFile}`,
        '-o',
        'GlobalKnownHostsFile=/dev/null',
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        'BatchMode=yes',
        '-o',
        `ConnectTimeout=${Math.ceil(s.connectTimeoutMs / 1000)}`,
        '-p',
        String(s.port),
        `${s.user}@${n.address}`,
      ]
    },
    async down() {
      if (done) return
      try {
        await labDown(inv)
      } finally {
        forget()
      }
    },
  }
}

/** GET http://host:port/ from the controller: the body, or the error code ("ECONNREFUSED", "timeout"). */
export function httpBody(host: string, port = 8080, timeoutMs = 1500): Promise<string> {
  return new Promise((resolve) => {
    // agent: false, so every request opens a fresh connection: a kept-alive one to the old node would lie.
    const req = http.get({ host, port, path: '/', timeout: timeoutMs, agent: false }, (res) => {
      let b = ''
      res.on('data', (d) => (b += d))
      res.on('end', () => resolve(b))
    })
    req.on('timeout', () => {
      req.destroy()
      resolve('timeout')
    })
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'))
  })
}
