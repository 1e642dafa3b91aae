import type { CheckResult } from '../../lib/report/types.ts'

export const sample: CheckResult[] = [
  { pair: 'demo', node: 'node-a', check: 'links', ok: true, detail: 'reaches peer node-b', ms: 12.4 },
  { pair: 'demo', node: 'node-b', check: 'links', ok: true, detail: 'reaches peer node-a', ms: 10 },
  { pair: 'demo', node: 'node-a', check: 'sync-drift', ok: true, detail: 'app: reference', ms: 200 },
  { pair: 'demo', node: 'node-b', check: 'sync-drift', ok: false, detail: 'app: 1 entry differs from node-a (active): a & <b> "c" (content)', ms: 210.6 },
  { pair: 'other', node: 'x-1', check: 'paths', ok: false, detail: 'unreachable: x-1: timed out\nsecond line', ms: 0 },
]
