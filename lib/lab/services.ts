// Installs the lab's service control script and server on a node. Everything goes into the
// node's private /var/lib/lab, so two nodes never share a pid file or a config.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { HapairError } from '../errors.ts'
import { packageFile } from '../package-files.ts'
import type { NodePlan } from './plan.ts'
import { nodePaths } from './node.ts'

export const SVC = '/var/lib/lab/bin/svc'
const HIDDEN = ['/srv', '/var/backups', '/var/log', '/var/lib']

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/** The control script: start/stop are idempotent, status exits 0 when running and 3 when not. */
export function svcScript(nodeBin: string): string {
  return `#!/bin/sh
# Lab service control (installed by playbooks/lab.ts): svc start|stop|status NAME
# exit 0: done / running; 3: not running (status); 2: usage; 1: could not start
NODE=${shq(nodeBin)}
LAB=/var/lib/lab
usage() { echo "usage: svc start|stop|status NAME" >&2; exit 2; }
[ $# -eq 2 ] || usage
action=$1
name=$2
case $name in ''|.*|*[!a-z0-9_.-]*) usage ;; esac
[ -f "$LAB/services/$name.json" ] || { echo "svc: no service named $name on this node" >&2; exit 2; }
pidf=$LAB/run/$name.pid
running() {
  [ -s "$pidf" ] || return 1
  pid=$(cat "$pidf")
  case $pid in ''|*[!0-9]*) return 1 ;; esac
  kill -0 "$pid" 2>/dev/null || return 1
  # a recycled pid is not our server
  tr '\\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$LAB/bin/server.mjs $name "
}
case $action in
  status)
    if running; then echo "$name running (pid $pid)"; exit 0; fi
    echo "$name stopped"; exit 3 ;;
  start)
    if running; then echo "$name already running (pid $pid)"; exit 0; fi
    mkdir -p "$LAB/run" /var/log/lab
    rm -f "$pidf"
    # detached from the caller's session and output, so an ssh session that starts it can end
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin setsid "$NODE" "$LAB/bin/server.mjs" "$name" </dev/null >>"/var/log/lab/$name.log" 2>&1 &
    i=0
    while [ $i -lt 200 ]; do
      if running; then echo "$name started (pid $pid)"; exit 0; fi
      sleep 0.025; i=$((i+1))
    done
    echo "svc: $name did not start; /var/log/lab/$name.log says:" >&2
    tail -n 5 "/var/log/lab/$name.log" >&2
    exit 1 ;;
  stop)
    if ! running; then rm -f "$pidf"; echo "$name already stopped"; exit 0; fi
    kill "$pid" 2>/dev/null
    # an exited server may linger as a zombie until init reaps it: empty cmdline = gone
    i=0
    while grep -q . "/proc/$pid/cmdline" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.025; i=$((i+1)); done
    grep -q . "/proc/$pid/cmdline" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    rm -f "$pidf"
    echo "$name stopped"; exit 0 ;;
  *) usage ;;
esac
`
}

const serverSource = () => readFileSync(packageFile('lib/lab/server.mjs'), 'utf8')

export function installServices(n: NodePlan): void {
  const nodeBin = process.execPath
  if (HIDDEN.some((d) => nodeBin === d || nodeBin.startsWith(d + '/'))) {
    throw new HapairError(`node binary ${nodeBin} is under a directory each lab node replaces with its own (${HIDDEN.join(', ')}); install node elsewhere`)
  }
  const lab = nodePaths(n).labDir
  for (const d of ['bin', 'run', 'services']) mkdirSync(path.join(lab, d), { recursive: true })
  mkdirSync(path.join(nodePaths(n).log, 'lab'), { recursive: true })
  writeFileSync(path.join(lab, 'node-name'), `${n.name}\n`)
  writeFileSync(path.join(lab, 'bin', 'svc'), svcScript(nodeBin))
  chmodSync(path.join(lab, 'bin', 'svc'), 0o755)
  writeFileSync(path.join(lab, 'bin', 'server.mjs'), serverSource())
  for (const s of n.services) {
    writeFileSync(path.join(lab, 'services', `${s.name}.json`), JSON.stringify({ http: s.http, tcp: s.tcp }) + '\n')
  }
}
