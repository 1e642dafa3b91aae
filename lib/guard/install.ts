// Installing, (re)starting and removing the guard on one node. Everything the guard needs lives in
// the pair's state dir on the node (lib/guard/script.ts guardFiles). Where the node runs systemd
// the template unit hapair-guard@.service (examples/systemd/hapair-guard.service) runs it through
// /etc/hapair/guard/PAIR.sh, a one-line launcher into the state dir, so no state-dir path ever has
// to be spelled in systemd's own quoting. Without systemd (the lab) it is started with setsid and
// found again by its pid file.
import { readFileSync } from 'node:fs'
import { HapairError } from '../errors.ts'
import { packageFile } from '../package-files.ts'
import type { Node, Pair } from '../inventory/schema.ts'
import { sh, shq } from '../shell.ts'
import { configText, guardConfig, guardFiles, guardScript, type PairRef } from './script.ts'
import { guardPidFunction } from './lease.ts'
import type { GuardRunner } from './runner.ts'

export const UNIT_TEMPLATE = '/etc/systemd/system/hapair-guard@.service'
export const LAUNCHER_DIR = '/etc/hapair/guard'
export const unitName = (pair: PairRef) => `hapair-guard@${pair.name}.service`
export const launcherPath = (pair: PairRef) => `${LAUNCHER_DIR}/${pair.name}.sh`

export function unitTemplate(): string {
  return readFileSync(packageFile('examples/systemd/hapair-guard.service'), 'utf8')
}

/** The launcher systemd runs: the guard from the pair's state dir, every path quoted. */
export function launcherText(pair: PairRef): string {
  const f = guardFiles(pair)
  return `#!/bin/sh\n# written by playbooks/guard.ts install: runs the lease guard of pair ${pair.name}\nexec /bin/sh ${shq(f.script)} ${shq(f.config)}\n`
}

export interface GuardInstallOptions {
  /** false: never systemd, even if the node runs it (the lab: its nodes share the host's /etc). */
  systemd?: boolean
  /** false: a guard that already runs is left as it is (power-on); default: replaced (a new config). */
  restart?: boolean
}

export interface GuardStarted {
  manager: 'systemd' | 'setsid'
  pid: number
}

async function must(run: GuardRunner, what: string, script: string, input?: string): Promise<string> {
  const r = await run(script, input)
  if (r.code !== 0) throw new HapairError(`${what} failed (exit ${r.code})${r.stderr.trim() ? `: ${r.stderr.trim().split('\n').slice(-3).join(' / ')}` : ''}`)
  return r.stdout
}

const writeFile = (dir: string, file: string, mode: string) =>
  sh`mkdir -p ${dir} && cat > ${file}.tmp.$$ && chmod ${mode} ${file}.tmp.$$ && mv -f ${file}.tmp.$$ ${file}`

/**
 * Stops a running setsid guard of this pair (by its verified pid); fine when none runs. Needs
 * guard_pid, which also reads an exited guard left unreaped (a zombie: no command line) as gone.
 */
function stopScript(pair: PairRef): string {
  return (
    `if p=$(guard_pid); then
  kill "$p" 2>/dev/null
  i=0; while guard_pid >/dev/null && [ $i -lt 100 ]; do sleep 0.02; i=$((i+1)); done
  guard_pid >/dev/null && kill -9 "$p" 2>/dev/null
fi
` +
    sh`rm -f ${guardFiles(pair).pid}` +
    '\n'
  )
}

/** Waits (2 s at most) until the guard's pid file names a live guard, and prints `started PID`. */
function waitScript(pair: PairRef): string {
  const f = guardFiles(pair)
  return (
    `i=0
while [ $i -lt 100 ]; do
  if p=$(guard_pid); then echo "started $p"; exit 0; fi
  sleep 0.02; i=$((i+1))
done
echo "the guard did not start" >&2
` +
    sh`tail -n 3 ${f.out} >&2 2>/dev/null` +
    '\nexit 1'
  )
}

/**
 * The guard's niceness, so a node busy with its own work still steps down on time: a late step-down
 * on a starved CPU is a second writer (keepalived runs its VRRP process at realtime priority for the
 * same reason). The systemd unit says the same (Nice=); unprivileged, nice warns and runs it as is.
 */
export const GUARD_NICE = -10

/** (Re)starts the installed guard: a running one is replaced, so a new config takes effect. */
export function startScript(pair: PairRef, opts: GuardInstallOptions = {}): string {
  const f = guardFiles(pair)
  const systemd = opts.systemd !== false
  const viaSystemd = sh`mkdir -p ${LAUNCHER_DIR} && printf '%s' ${launcherText(pair)} > ${launcherPath(pair)}.tmp && mv -f ${launcherPath(pair)}.tmp ${launcherPath(pair)} || exit 1
cat > ${UNIT_TEMPLATE}.tmp && mv -f ${UNIT_TEMPLATE}.tmp ${UNIT_TEMPLATE} || exit 1
systemctl daemon-reload && systemctl enable ${unitName(pair)} >/dev/null 2>&1 && systemctl ${opts.restart === false ? 'start' : 'restart'} ${unitName(pair)} || exit 1
echo manager=systemd`
  const keep = opts.restart === false ? 'if p=$(guard_pid); then echo manager=setsid; echo "started $p"; exit 0; fi\n' : ''
  const viaSetsid =
    keep + stopScript(pair) + sh`setsid nice -n ${GUARD_NICE} /bin/sh ${f.script} ${f.config} </dev/null >>${f.out} 2>&1 &` + '\necho manager=setsid'
  return `${guardPidFunction(pair)}
${systemd ? 'if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then\n' + viaSystemd + '\nelse\n' + viaSetsid + '\nfi' : viaSetsid}
${waitScript(pair)}`
}

function parseStarted(out: string): GuardStarted {
  const pid = Number(/started (\d+)/.exec(out)?.[1])
  return { manager: /manager=systemd/.test(out) ? 'systemd' : 'setsid', pid }
}

/** Writes the script and the node's config, then (re)starts the guard. */
export async function installGuard(run: GuardRunner, pair: Pair, node: Node, opts: GuardInstallOptions = {}): Promise<GuardStarted> {
  const f = guardFiles(pair)
  await must(run, `writing ${f.script}`, writeFile(f.dir, f.script, '755'), guardScript())
  await must(run, `writing ${f.config}`, writeFile(f.dir, f.config, '644'), configText(guardConfig(pair, node)))
  return startGuard(run, pair, opts)
}

/** Starts the guard already installed on the node (power-on); a running one is restarted. */
export async function startGuard(run: GuardRunner, pair: PairRef, opts: GuardInstallOptions = {}): Promise<GuardStarted> {
  const out = await must(run, 'starting the guard', startScript(pair, opts), opts.systemd === false ? undefined : unitTemplate())
  return parseStarted(out)
}

/**
 * Stops the guard and removes its files (its log stays). The caller disarms the lease first: a
 * ledger that still says armed would let a taker count on a step-down nobody enforces.
 */
export async function uninstallGuard(run: GuardRunner, pair: Pair): Promise<string> {
  const f = guardFiles(pair)
  const script =
    guardPidFunction(pair) +
    '\n' +
    sh`if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ] && [ -f ${launcherPath(pair)} ]; then systemctl disable --now ${unitName(pair)} >/dev/null 2>&1; rm -f ${launcherPath(pair)}; echo systemd; fi` +
    '\n' +
    stopScript(pair) +
    sh`rm -f ${f.script} ${f.config} ${f.state} ${f.lease}` +
    '\necho removed'
  return must(run, 'removing the guard', script)
}
