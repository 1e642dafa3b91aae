// "The singleton runs on this node", for a PostgreSQL service: its status command says the server
// runs AND the server says it is not in recovery. A standby runs too, but it is not the live
// database; counting it would read every healthy pair as two live writers.
import type { Service } from '../inventory/schema.ts'
import { shJoin } from '../shell.ts'
import { pgSettings } from './config.ts'

export function primaryStatusScript(svc: Service): string {
  const pg = pgSettings(svc.postgresql!)
  const ask = shJoin([
    'runuser',
    '-u',
    pg.osUser,
    '--',
    `${pg.binDir}/psql`,
    '-XAtq',
    '-h',
    pg.socketDir,
    '-p',
    pg.port,
    '-d',
    'postgres',
    '-c',
    'select pg_is_in_recovery()',
  ])
  return `(\n${svc.status}\n) >/dev/null 2>&1 || exit 3\ncd / && r=$(${ask} 2>/dev/null) || exit 3\n[ "$r" = f ] || exit 3`
}
