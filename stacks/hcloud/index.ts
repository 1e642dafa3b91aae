// pulumi up: reads the inventory named by `ha-hcloud:inventory`, builds every pair whose
// provision.provider is "hcloud", and exports `pairs` for `playbooks/import-stack.ts`.
import { stackInput } from '../shared/stack.ts'
import { hcloudStack } from './program.ts'

const { plans, token } = stackInput('ha-hcloud', 'hcloud')
export const pairs = hcloudStack(plans, undefined, token).pairs
