// Semantic rules for a PostgreSQL service that the schema cannot say. Only one primary may ever
// accept writes, so the service must be the pair's singleton; its data directory is a running
// database's, which a file sync would corrupt, so no sync item may cover it.
import type { Pair } from './schema.ts'
import type { Problem } from './validate.ts'
import { hasDotDot, normalPath, within } from '../paths.ts'
import { isSystemDir } from './hostile-rules.ts'

export function postgresProblems(pair: Pair, at: string, out: Problem[]) {
  const pg = (pair.services ?? []).map((s, i) => ({ s, i })).filter((x) => x.s.postgresql)
  if (pg.length > 1)
    out.push({
      path: `${at}/services/${pg[1].i}/postgresql`,
      message: `a pair holds one PostgreSQL cluster (already at ${at}/services/${pg[0].i}): one primary, the others its standbys`,
    })
  for (const { s, i } of pg) {
    const sat = `${at}/services/${i}`
    const p = s.postgresql!
    if (!s.singleton) out.push({ path: `${sat}/singleton`, message: 'a postgresql service must be "singleton": true: exactly one node may run it as primary' })
    for (const key of ['dataDir', 'passwordFile', 'binDir', 'socketDir'] as const) {
      const v = p[key]
      if (v !== undefined && hasDotDot(v)) out.push({ path: `${sat}/postgresql/${key}`, message: `must not contain ".." (got ${JSON.stringify(v)})` })
    }
    if (!hasDotDot(p.dataDir) && isSystemDir(p.dataDir))
      out.push({
        path: `${sat}/postgresql/dataDir`,
        message: `must be the cluster's own directory, not the system directory ${normalPath(p.dataDir)} (e.g. /var/lib/postgresql/15/main)`,
      })
    pair.sync?.items.forEach((it) => {
      if (hasDotDot(it.path) || hasDotDot(p.dataDir)) return
      if (within(p.dataDir, it.path) || within(it.path, p.dataDir)) {
        out.push({
          path: `${sat}/postgresql/dataDir`,
          message: `overlaps sync item "${it.name}" (${it.path}): files copied under a running database corrupt it; replication moves its data`,
        })
      }
    })
    if (!hasDotDot(p.passwordFile) && within(p.passwordFile, p.dataDir))
      out.push({
        path: `${sat}/postgresql/passwordFile`,
        message: `must be outside the data directory ${p.dataDir}: pg_basebackup and pg_rewind replace what is in it`,
      })
  }
}
