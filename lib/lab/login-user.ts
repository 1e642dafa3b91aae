// A lab node logged into as a non-root user (the inventory's ssh.user, with ssh.become sudo):
// the user exists only inside the node. Each node gets its own passwd, group and shadow, with
// the user added, and its own /etc/sudoers.d holding the one rule hapair needs; the holder
// bind-mounts them over the host's in the node's private mount namespace, so the host's users
// and sudo rules are untouched (the node sees only the lab's rule).
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { sudoersRule, type Become } from '../become.ts'
import { InputError } from '../errors.ts'
import type { NodePlan } from './plan.ts'
import { findTool } from './tools.ts'

export interface LoginUser {
  name: string
  become: Become
}

/** Names useradd would take: the user goes into passwd and sudoers as it is. */
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/

/** Inside the node: the controller's and the nodes' keys, readable by the login user (the lab's state dir may not be). */
export const NODE_AUTHORIZED_KEYS = '/var/lib/lab/ssh/authorized_keys'

/** `dirs`: where sudo is looked for (tests). */
export function checkLoginUser(file: string, node: string, u: LoginUser, dirs?: string[]): void {
  if (!USER_NAME.test(u.name)) throw new InputError(`${file}: ssh.user of ${node} is ${JSON.stringify(u.name)}; the lab can create only a plain user name`)
  if (u.become === 'sudo' && !findTool('sudo', dirs))
    throw new InputError(`ssh.become sudo on ${node}: the lab needs sudo on this machine (apt-get install sudo)`)
}

/** The node's own /etc files, in the directory the holder mounts them from. */
export const etcDir = (n: NodePlan) => path.join(n.root, 'etc')

function freeId(lines: string[], from: number): number {
  const used = new Set(lines.map((l) => Number(l.split(':')[2])))
  let id = from
  while (used.has(id)) id++
  return id
}

/** Writes the node's passwd, group, shadow, hosts and sudoers.d, and the keys where the user can read them. */
export function writeLoginUser(n: NodePlan, u: LoginUser, authorizedKeys: string): void {
  const etc = etcDir(n)
  mkdirSync(path.join(etc, 'sudoers.d'), { recursive: true, mode: 0o755 })
  chmodSync(etc, 0o755)
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n').filter(Boolean)
  const group = readFileSync('/etc/group', 'utf8').split('\n').filter(Boolean)
  const uid = freeId(passwd, 2900)
  const gid = freeId(group, uid)
  const home = `/var/lib/lab/home/${u.name}`
  writeFileSync(path.join(etc, 'passwd'), [...passwd, `${u.name}:x:${uid}:${gid}:hapair lab login user:${home}:/bin/sh`, ''].join('\n'), { mode: 0o644 })
  // sudo looks its own host name up, and warns on every command when it cannot.
  writeFileSync(path.join(etc, 'hosts'), `${readFileSync('/etc/hosts', 'utf8').trimEnd()}\n127.0.1.1 ${n.name}\n`, { mode: 0o644 })
  writeFileSync(path.join(etc, 'group'), [...group, `${u.name}:x:${gid}:`, ''].join('\n'), { mode: 0o644 })
  // "*": no password, yet not locked ("!"), which sshd would refuse even a key for.
  let shadow: string[] = []
  try {
    shadow = readFileSync('/etc/shadow', 'utf8').split('\n').filter(Boolean)
  } catch {
    /* no shadow file on this host */
  }
  writeFileSync(path.join(etc, 'shadow'), [...shadow, `${u.name}:*:19000:0:99999:7:::`, ''].join('\n'), { mode: 0o640 })
  if (u.become === 'sudo') writeFileSync(path.join(etc, 'sudoers.d', 'hapair'), sudoersRule(u.name), { mode: 0o440 })
  // Inside the node /var/lib and /var/lib/lab are the node's: the user must be able to walk
  // them to its home and to the keys sshd reads as the user.
  const p = path.join(n.root, 'lib')
  chmodSync(p, 0o755)
  mkdirSync(path.join(p, 'lab', 'ssh'), { recursive: true, mode: 0o755 })
  chmodSync(path.join(p, 'lab'), 0o755)
  mkdirSync(path.join(p, 'lab', 'home', u.name), { recursive: true, mode: 0o700 })
  chmodSync(path.join(p, 'lab', 'home'), 0o755)
  writeFileSync(path.join(p, 'lab', 'ssh', 'authorized_keys'), readFileSync(authorizedKeys), { mode: 0o644 })
  chownSync(path.join(p, 'lab', 'home', u.name), uid, gid)
}
