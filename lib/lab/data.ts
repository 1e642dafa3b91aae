// The data a fresh pair starts with: identical application data and shared secret on every
// node (what sync and the preconditions compare), one node-specific protected directory, and
// backups, archives and logs recent enough for the nightly checks to pass.
import { chmodSync, mkdirSync, writeFileSync, utimesSync } from 'node:fs'
import path from 'node:path'
import { HapairError } from '../errors.ts'
import type { NodePlan } from './plan.ts'
import { nodePaths, nodeExec } from './node.ts'

export interface SeedShared {
  /** Same random content on every node: the identicalFiles precondition checks it. */
  secret: string
  /** UTC time of `up`, yyyymmdd-HHMMSS: the backups' file name. */
  stamp: string
}

export const utcStamp = (d = new Date()) => d.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)

// One timestamp for every seeded file on every node: a fresh lab is "in sync" by size and mtime,
// as after a real sync, whatever second each node's files happened to be written in.
const SEEDED = new Date(Math.floor(Date.now() / 1000) * 1000)

function put(file: string, text: string, mode = 0o644): void {
  mkdirSync(path.dirname(file), { recursive: true })
  writeFileSync(file, text)
  chmodSync(file, mode)
  utimesSync(file, SEEDED, SEEDED)
}

/** Writes the node's files from the host side (the node's roots are plain directories here). */
export function seedNode(n: NodePlan, shared: SeedShared): void {
  const p = nodePaths(n)
  const srv = (f: string) => path.join(p.srv, f)
  const lib = (f: string) => path.join(p.lib, f)
  put(srv('app/index.html'), '<!doctype html>\n<title>hapair lab</title>\n<h1>hapair lab application</h1>\n')
  put(srv('app/data/customers.csv'), 'id,name\n1,Ada\n2,Grace\n3,Linus\n')
  put(
    srv('app/data/orders.json'),
    JSON.stringify(
      [
        { id: 1, customer: 1, total: 42 },
        { id: 2, customer: 3, total: 7 },
      ],
      null,
      2,
    ) + '\n',
  )
  put(srv('app/data/readme.txt'), 'application data: mirrored from the active node to the standby\n')
  put(srv('app/local/node.txt'), `${n.name}: node-local files, never synced\n`)
  put(srv('app/.rhosts'), '# protected: sync never writes or deletes this file\n')
  put(srv('config/app.conf'), '# application configuration\nlisten = 0.0.0.0:8080\nworkers = 4\n')
  put(lib('app/software-version'), '1\n')
  put(lib('app/data-version'), '1\n')
  put(lib('app/secret.key'), `${shared.secret}\n`, 0o600)
  put(lib(`app/archive/wal-${shared.stamp}-000000010000000000000001`), `write-ahead log segment of ${n.name} at ${shared.stamp}\n`.repeat(32))
  const t = new Date().toISOString()
  put(
    path.join(p.log, 'app/error.log'),
    [`${t} INFO app starting on ${n.name}`, `${t} INFO listening on 0.0.0.0:8080`, `${t} INFO database connection pool ready (4 connections)`, ''].join('\n'),
  )
  mkdirSync(p.backups, { recursive: true })
}

// Run on the node, so the archive really is "a tar of this node's /srv/app"; names are "$1".
const BACKUP = `set -e
mkdir -p /var/backups/app
cd /var/backups/app
tar -czf "$1" -C /srv app
sha256sum "$1" >SHA256SUMS
tar -tzf "$1" >"$1.list"`

export async function makeBackup(n: NodePlan, stamp: string): Promise<string> {
  const name = `app-${stamp}.tar.gz`
  const r = await nodeExec(n, ['sh', '-c', BACKUP, 'backup', name])
  if (r.code !== 0) throw new HapairError(`${n.name}: backup failed: ${r.stderr.trim()}`)
  return `/var/backups/app/${name}`
}
