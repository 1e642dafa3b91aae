// Installs the Debian packages the lab needs when they are missing (as root), or prints the
// exact command. Plain JavaScript so it runs before anything is compiled.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, writeFileSync, rmSync } from 'node:fs'

// command -> Debian package that provides it
const NEEDS = {
  sshd: 'openssh-server',
  ssh: 'openssh-client',
  'ssh-keygen': 'openssh-client',
  rsync: 'rsync',
  ip: 'iproute2',
  arping: 'arping',
  ping: 'iputils-ping',
  nsenter: 'util-linux',
  unshare: 'util-linux',
  tar: 'tar',
  gzip: 'gzip',
  sha256sum: 'coreutils',
  pkill: 'procps',
  nft: 'nftables',
  // The lab's PostgreSQL (the demo pair's db, test/postgres, lib/lab/postgres.ts); not on PATH.
  '/usr/lib/postgresql/15/bin/pg_ctl': 'postgresql-15',
  inotifywait: 'inotify-tools',
  // The lab's non-root node user (ssh.become sudo, test/become.lab.test.ts).
  sudo: 'sudo',
}
const extra = process.argv.slice(2) // e.g. `node scripts/setup.mjs keepalived` for the benchmark
// Extra commands whose Debian package has another name (bench/postgres: `setup.mjs patroni etcd`).
const PACKAGE_OF = { etcd: 'etcd-server', etcdctl: 'etcd-client', patronictl: 'patroni' }

const have = (cmd) => spawnSync('sh', ['-c', 'command -v "$1" || test -x "/usr/sbin/$1"', 'sh', cmd], { stdio: 'ignore' }).status === 0
const missing = [
  ...new Set([
    ...Object.entries(NEEDS)
      .filter(([cmd]) => !have(cmd))
      .map(([, pkg]) => pkg),
    ...extra.filter((cmd) => !have(cmd)).map((cmd) => PACKAGE_OF[cmd] ?? cmd),
  ]),
]
if (missing.length === 0) process.exit(0)

const cmd = `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing.join(' ')}`
if (process.getuid?.() !== 0) {
  console.error(`missing Debian packages: ${missing.join(', ')}; as root run:\n  ${cmd}`)
  process.exit(2)
}
console.error(`installing Debian packages: ${missing.join(' ')}`)
// A package's maintainer scripts would otherwise start its daemon (sshd, keepalived) in the
// host's own namespace; policy-rc.d answering 101 is Debian's switch for "do not start services".
const policy = '/usr/sbin/policy-rc.d'
const ownPolicy = !existsSync(policy)
if (ownPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 })
try {
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' })
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  })
} finally {
  if (ownPolicy) rmSync(policy, { force: true })
}
