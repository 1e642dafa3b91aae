// One lab node = a network namespace plus private mount and UTS (hostname) namespaces, kept
// alive by a holder process (`sleep infinity`): sshd, services and `lab exec` all enter the
// holder's namespaces, so the node outlives any one of them, and killing everything in the
// netns powers it off.
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { HapairError } from '../errors.ts'
import type { NodePlan } from './plan.ts'
import { must, nodeEnv, run, runInherit, sleep, type ProcResult } from './proc.ts'
import { toolPath } from './tools.ts'

export function nodePaths(n: NodePlan) {
  const j = (...p: string[]) => path.join(n.root, ...p)
  return {
    srv: j('srv'),
    backups: j('backups'),
    log: j('log'),
    lib: j('lib'),
    home: j('root'),
    hostKey: j('sshd', 'ssh_host_ed25519_key'),
    sshdConfig: j('sshd', 'sshd_config'),
    sshdPid: j('sshd', 'sshd.pid'),
    sshdLog: j('sshd', 'sshd.log'),
    holderPid: j('holder.pid'),
    /** Host-side view of the node's /var/lib/hapair/ssh and /var/lib/lab. */
    nodeSsh: j('lib', 'hapair', 'ssh'),
    labDir: j('lib', 'lab'),
  }
}

// Lazy-unmounting the inherited /run first matters: the copy of /run/netns would otherwise pin
// every other lab's namespaces (and their veths) for as long as this node lives. /run is then a
// fresh tmpfs, as on a booted machine, which also gives sshd its /run/sshd; it comes first and
// -n keeps mount from writing its utab, so nothing of the node lands in the host's /run.
const HOLDER = `set -e
umount -n -l /run/netns 2>/dev/null || true
umount -n -l /run 2>/dev/null || true
mount -n -t tmpfs -o mode=755,size=16m lab-run /run
mkdir -p /run/sshd /run/lock
mount -n --bind "$1/srv" /srv
mount -n --bind "$1/backups" /var/backups
mount -n --bind "$1/log" /var/log
mount -n --bind "$1/lib" /var/lib
mount -n --bind "$1/root" /root
if [ -d "$1/etc" ]; then
  for f in passwd group shadow hosts; do mount -n --bind "$1/etc/$f" "/etc/$f"; done
  mount -n --bind "$1/etc/sudoers.d" /etc/sudoers.d
fi
hostname "$2"
echo ready
exec sleep infinity </dev/null >/dev/null 2>&1`

function nsInode(ns: string): number | undefined {
  try {
    return statSync(`/run/netns/${ns}`).ino
  } catch {
    return undefined
  }
}

export function pidInNs(pid: number, ns: string): boolean {
  const ino = nsInode(ns)
  try {
    return ino !== undefined && readlinkSync(`/proc/${pid}/ns/net`) === `net:[${ino}]`
  } catch {
    return false
  }
}

/** Every process in the namespace (what `ip netns pids` prints), without spawning ip. */
export function nsPids(ns: string): number[] {
  const ino = nsInode(ns)
  if (ino === undefined) return []
  const want = `net:[${ino}]`
  const out: number[] = []
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue
    try {
      if (readlinkSync(`/proc/${e}/ns/net`) === want) out.push(Number(e))
    } catch {
      /* exited */
    }
  }
  return out
}

/**
 * The lab's one power state (the fencing driver's, labPowerState's, lab status's): on while
 * anything runs in the node's namespace, off once nothing does. Not the holder alone: a node whose
 * holder died while its services live on is not off, and fencing it must still kill them.
 * Unknown without the namespace: the lab is down.
 */
export function powerState(ns: string): 'on' | 'off' | 'unknown' {
  if (nsInode(ns) === undefined) return 'unknown'
  return nsPids(ns).length ? 'on' : 'off'
}

/** SIGKILLs everything in the namespace until nothing is left (forks race the first sweep). */
export async function killAll(ns: string): Promise<number> {
  const killed = new Set<number>()
  for (let i = 0; i < 100; i++) {
    const pids = nsPids(ns)
    if (!pids.length) return killed.size
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL')
        killed.add(pid)
      } catch {
        /* already gone */
      }
    }
    await sleep(20)
  }
  throw new HapairError(`processes in ${ns} survive SIGKILL: ${nsPids(ns).join(' ')}`)
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim())
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
  } catch {
    return []
  }
}

/** The holder's pid while the node is powered on; undefined when it is off. */
export function holderPid(n: NodePlan): number | undefined {
  const pid = readPid(nodePaths(n).holderPid)
  return pid && pidInNs(pid, n.ns) && cmdline(pid)[0]?.endsWith('sleep') ? pid : undefined
}

export function sshdPid(n: NodePlan): number | undefined {
  const pid = readPid(nodePaths(n).sshdPid)
  return pid && pidInNs(pid, n.ns) ? pid : undefined
}

export async function startHolder(n: NodePlan): Promise<number> {
  const child = spawn(
    toolPath('ip'),
    ['netns', 'exec', n.ns, toolPath('unshare'), '--mount', '--uts', '--propagation', 'private', 'sh', '-c', HOLDER, 'lab-holder', n.root, n.name],
    {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: nodeEnv(),
      cwd: '/',
    },
  )
  try {
    const pid = await new Promise<number>((resolve, reject) => {
      let out = ''
      let err = ''
      const timer = setTimeout(() => reject(new HapairError(`${n.name}: node did not come up within 10 s`)), 10_000)
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d
        if (out.includes('ready')) {
          clearTimeout(timer)
          resolve(child.pid!)
        }
      })
      child.stderr!.setEncoding('utf8').on('data', (d: string) => {
        err += d
      })
      child.on('error', (e) => {
        clearTimeout(timer)
        reject(new HapairError(`${n.name}: cannot start the node: ${e.message}`))
      })
      child.on('exit', (code) => {
        clearTimeout(timer)
        reject(new HapairError(`${n.name}: cannot set up the node's mounts: ${err.trim() || `exit ${code}`}`))
      })
    })
    writeFileSync(nodePaths(n).holderPid, `${pid}\n`)
    // "ready" is printed just before the shell execs sleep; holderPid() knows the holder by that
    // sleep, so a node is on only once the exec happened (under load that takes a while).
    for (let i = 0; i < 200 && !holderPid(n); i++) await sleep(10)
    if (!holderPid(n)) throw new HapairError(`${n.name}: the node's holder did not settle within 2 s`)
    return pid
  } finally {
    // The holder lives on without us: drop our ends so neither side waits for the other.
    child.stdout!.destroy()
    child.stderr!.destroy()
    child.removeAllListeners()
    child.unref()
  }
}

const q = (p: string) => (/[\s"]/.test(p) ? `"${p.replace(/"/g, '')}"` : p)

export function sshdConfig(n: NodePlan, authorizedKeys: string): string {
  const p = nodePaths(n)
  return [
    `# lab node ${n.name}: written by playbooks/lab.ts, removed by lab down`,
    'ListenAddress 0.0.0.0',
    `Port ${n.sshPort}`,
    `HostKey ${q(p.hostKey)}`,
    `PidFile ${q(p.sshdPid)}`,
    // The login user's own file too, as on a provisioned server: cloud-init appends the peers'
    // sync keys there (lib/provision/cloud-init.ts). Every home here is the node's own, empty at up.
    `AuthorizedKeysFile ${q(authorizedKeys)} .ssh/authorized_keys`,
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'PermitRootLogin prohibit-password',
    // The keys live in the lab's state dir, whose ownership/modes sshd would otherwise police.
    'StrictModes no',
    'Subsystem sftp internal-sftp',
    // Failover tools open many sessions at once; the defaults (10, 10:30:100) would drop some.
    'MaxSessions 64',
    'MaxStartups 100:30:200',
    // A receiver behind a cut link would otherwise wait for packets that never come.
    'ClientAliveInterval 15',
    'ClientAliveCountMax 4',
    'LogLevel ERROR',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    '',
  ].join('\n')
}

export async function startSshd(n: NodePlan, holder: number): Promise<number> {
  const p = nodePaths(n)
  rmSync(p.sshdPid, { force: true })
  // Without -D sshd reports config errors through its exit code, then daemonizes.
  await must('nsenter', ['-t', String(holder), '-n', '-m', '-u', '--', toolPath('sshd'), '-f', p.sshdConfig, '-E', p.sshdLog], { env: nodeEnv(), cwd: '/' })
  for (let i = 0; i < 150; i++) {
    const pid = sshdPid(n)
    if (pid) return pid
    await sleep(20)
  }
  const log = existsSync(p.sshdLog) ? readFileSync(p.sshdLog, 'utf8').trim().split('\n').slice(-3).join(' / ') : ''
  throw new HapairError(`${n.name}: sshd did not start${log ? `: ${log}` : ''}`)
}

function enterArgs(n: NodePlan, argv: string[]): string[] {
  if (!existsSync(`/run/netns/${n.ns}`)) throw new HapairError(`${n.name}: the lab is not up (no namespace ${n.ns}); run: lab up`)
  const holder = holderPid(n)
  if (!holder) throw new HapairError(`${n.name} is powered off (lab fault kill); power it on with: lab fault start ${n.name}`)
  return ['-t', String(holder), '-n', '-m', '-u', '--', ...argv]
}

/** Runs argv on the node (its network and mount namespaces), output captured. */
export function nodeExec(n: NodePlan, argv: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<ProcResult> {
  return run('nsenter', enterArgs(n, argv), { input: opts.input, env: nodeEnv(), cwd: '/', timeoutMs: opts.timeoutMs })
}

/** Same, sharing our terminal; resolves with the command's exit code. */
export function nodeExecInherit(n: NodePlan, argv: string[]): Promise<number> {
  return runInherit('nsenter', enterArgs(n, argv), { env: nodeEnv(), cwd: '/' })
}
