// npm run demo: the main job on a real lab pair, as an operator would type it.
// lab up -> status -> failover -> status -> failback -> status -> verify. The lab stays up.
import { spawnSync } from 'node:child_process'

const inventory = process.env.HAPAIR_INVENTORY || 'inventory/lab.json'
const steps: [string, string[], number[]][] = [
  ['lab', ['up', '--inventory', inventory], [0]],
  ['status', ['--inventory', inventory], [0]],
  ['failover', ['--inventory', inventory, '--yes'], [0]],
  ['status', ['--inventory', inventory], [0]],
  ['failback', ['--inventory', inventory, '--yes'], [0]],
  ['status', ['--inventory', inventory], [0]],
  ['verify', ['--inventory', inventory], [0, 1]],
]

for (const [playbook, args, ok] of steps) {
  console.log(`\n$ npx zx playbooks/${playbook}.ts ${args.join(' ')}`)
  // Same as `npx zx`, without npx's start-up cost.
  const r = spawnSync(process.execPath, ['--import', 'tsx', `playbooks/${playbook}.ts`, ...args], { stdio: 'inherit' })
  if (!ok.includes(r.status ?? -1)) {
    console.error(`\ndemo stopped: ${playbook} exited ${r.status ?? r.signal}`)
    process.exit(r.status || 1)
  }
}
console.log(
  `\nThe lab is still up: try \`npx zx playbooks/lab.ts exec node-a -- ls /srv/app\`, \`npx zx playbooks/lab.ts fault isolate node-a\`, then \`npx zx playbooks/failover.ts --yes\`.\nRemove it with \`npx zx playbooks/lab.ts down\`.`,
)
