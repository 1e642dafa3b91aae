// npx zx playbooks/policy.ts get|set PAIR ITEM [POLICY] [--inventory F] [--json]
import { inventoryFrom, parseArgs, runPlaybook } from '../lib/cli.ts'
import { helpText } from '../lib/cli/help.ts'
import { POLICY } from '../lib/options/policy.ts'
import { InputError } from '../lib/errors.ts'
import { policyAt, setPolicy } from '../lib/sync/policy-file.ts'
import { POLICIES } from '../lib/sync/types.ts'

await runPlaybook(async () => {
  const args = parseArgs(POLICY)
  const [verb, pair, item, policy, ...extra] = args._
  const show = (o: object, text: string) => console.log(args.json ? JSON.stringify(o) : text)
  if (verb === 'get' && pair && item && policy === undefined) {
    const at = policyAt(inventoryFrom(args), pair, item)
    show({ pair: at.pair, item: at.item, policy: at.policy, explicit: at.explicit }, at.explicit ? at.policy : `${at.policy} (default)`)
    return
  }
  if (verb === 'set' && pair && item && policy !== undefined && extra.length === 0) {
    const file = inventoryFrom(args).file
    const r = setPolicy(file, pair, item, policy)
    show(
      { pair: r.pair, item: r.item, policy: r.policy, before: r.before, changed: r.changed, file },
      r.changed ? `${r.pair}/${r.item}: ${r.before} -> ${r.policy} (${file})` : `${r.pair}/${r.item}: already ${r.policy}`,
    )
    return
  }
  throw new InputError(`usage: expected "get PAIR ITEM" or "set PAIR ITEM POLICY" (got ${JSON.stringify(args._.join(' '))})`)
}, helpText(POLICY))
