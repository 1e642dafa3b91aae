// pulumi up: reads the inventory named by `ha-digitalocean:inventory`, builds every pair whose
// provision.provider is "digitalocean", and exports `pairs` for `playbooks/import-stack.ts`.
import { stackInput } from '../shared/stack.ts'
import { digitaloceanStack } from './program.ts'

const { plans, token } = stackInput('ha-digitalocean', 'digitalocean')
export const pairs = digitaloceanStack(plans, undefined, token).pairs
