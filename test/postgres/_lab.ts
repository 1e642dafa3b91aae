// A lab whose demo pair's db is real PostgreSQL (lib/lab/postgres.ts), for test/postgres/*.
import { startTestLab, type TestLab } from '../helpers/lab.ts'
import { labPgService } from '../../lib/lab/postgres.ts'
import type { Service } from '../../lib/inventory/schema.ts'

export async function startPgLab(
  mode: 'sync' | 'async' = 'sync',
  extra: Partial<Service['postgresql']> = {},
  more?: (inventoryJson: any) => void,
): Promise<TestLab> {
  return startTestLab({
    postgres: true,
    mutate: (j) => {
      const pair = j.pairs[0]
      pair.services = pair.services.map((s: Service) => (s.name === 'db' ? labPgService(mode, extra) : s))
      // The fake db's endpoint precondition stays valid: PostgreSQL listens on 5432 too.
      more?.(j)
    },
  })
}
