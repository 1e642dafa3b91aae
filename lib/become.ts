// ssh.become: a non-root login user runs everything hapair does on a node as root through
// `sudo -n /bin/sh -c`. One program, not a list: hapair's work on a node is shell scripts
// (state files, address moves, the inventory's own service and check commands), so the rule
// needs sh and sh is root; a longer list would only look narrower. -n makes a missing rule, or
// one that wants a password, fail at once with sudo's message instead of waiting on a prompt.
import { shq } from './shell.ts'

export type Become = 'none' | 'sudo'

/** The program the sudoers rule names; absolute, so sudo matches it without a search. */
export const BECOME_SHELL = '/bin/sh'

/** A rendered command line, run as root by the remote login shell: one quoted argument to sh -c. */
export function becomeCommand(command: string, become: Become): string {
  return become === 'sudo' ? `sudo -n ${BECOME_SHELL} -c ${shq(command)}` : command
}

/** Run once per connection before any command: a missing rule fails here, named as such, not as the first command's odd exit 1. */
export const BECOME_PROBE = becomeCommand('exit 0', 'sudo')

/** What sudo prints when the rule is missing or wants a password: the cause to name (its last word; warnings come first). */
export function sudoRefusal(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
  return lines.filter((l) => l.startsWith('sudo:')).pop() ?? lines.pop() ?? ''
}

/**
 * The SFTP server as root, over an exec channel (the sftp transport and the records): sshd's own
 * subsystem would run as the login user. Where it lives differs between distributions.
 */
const SFTP_SERVERS = ['/usr/lib/openssh/sftp-server', '/usr/libexec/openssh/sftp-server', '/usr/libexec/sftp-server', '/usr/lib/ssh/sftp-server']
export const SFTP_SERVER_DIRS = `looked for ${SFTP_SERVERS.join(', ')}`
export const SFTP_SERVER_SCRIPT = becomeCommand(`for p in ${SFTP_SERVERS.join(' ')}; do [ -x "$p" ] && exec "$p"; done; exit 127`, 'sudo')

/**
 * rsync's --rsync-path for a target reached as a non-root user: the receiving rsync runs as
 * root through the same rule, so it can write every file and keep owners. rsync appends its
 * server arguments, which sh hands on as "$@".
 */
export function rsyncPath(become: Become): string | undefined {
  return become === 'sudo' ? `sudo -n ${BECOME_SHELL} -c ${shq('exec rsync "$@"')} rsync` : undefined
}

/** The sudoers line for a login user (docs/inventory.md shows the same). */
export const sudoersRule = (user: string) => `${user} ALL=(root) NOPASSWD: ${BECOME_SHELL}\n`
