// The lab is built from system tools; check them all up front so a missing one is one clear
// line with the install command, not a spawn ENOENT halfway through building namespaces.
import { accessSync, constants } from 'node:fs'
import path from 'node:path'
import { InputError } from '../errors.ts'

/** Tool → Debian package that provides it. */
export const LAB_TOOLS: Record<string, string> = {
  ip: 'iproute2',
  sshd: 'openssh-server',
  ssh: 'openssh-client',
  'ssh-keygen': 'openssh-client',
  rsync: 'rsync',
  arping: 'arping',
  unshare: 'util-linux',
  nsenter: 'util-linux',
}

/** PATH plus the sbin directories: a non-login root shell may lack them, yet ip and sshd live there. */
export function searchDirs(envPath = process.env.PATH ?? ''): string[] {
  const dirs = envPath.split(':').filter(Boolean)
  for (const d of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) if (!dirs.includes(d)) dirs.push(d)
  return dirs
}

export function findTool(name: string, dirs: string[] = searchDirs()): string | undefined {
  for (const d of dirs) {
    const p = path.join(d, name)
    try {
      accessSync(p, constants.X_OK)
      return p
    } catch {
      /* next */
    }
  }
  return undefined
}

const cache = new Map<string, string>()
/** Absolute path of a tool (cached); the bare name if it cannot be found, so spawn reports it. */
export function toolPath(name: string): string {
  if (name.includes('/')) return name
  let p = cache.get(name)
  if (!p) {
    p = findTool(name) ?? name
    cache.set(name, p)
  }
  return p
}

/** The one-line complaint for missing tools, or undefined when all are there. */
export function missingToolsMessage(tools: string[] = Object.keys(LAB_TOOLS), dirs: string[] = searchDirs()): string | undefined {
  const missing = tools.filter((t) => !findTool(t, dirs))
  if (!missing.length) return undefined
  const pkgs = [...new Set(missing.map((t) => LAB_TOOLS[t] ?? t))]
  return `lab needs ${missing.join(', ')}: apt-get install -y ${pkgs.join(' ')}`
}

export const NOT_ROOT = 'lab needs root: it creates network namespaces; run as root'

/** Throws InputError (exit 2) unless we are root and every tool is installed. */
export function requireLabHost(): void {
  if (process.getuid?.() !== 0) throw new InputError(NOT_ROOT)
  const msg = missingToolsMessage()
  if (msg) throw new InputError(msg)
}
