// The hcloud stack as a function of a loaded inventory, so tests can run it under mocks.
import * as pulumi from '@pulumi/pulumi'
import * as hcloud from '@pulumi/hcloud'
import type { StackPairOutput } from '../../lib/provision/outputs.ts'
import type { PairPlan } from '../../lib/provision/plan.ts'
import { sshKeyName } from '../shared/stack.ts'
import { HaPair } from './ha-pair.ts'

export interface HcloudStack { components: HaPair[]; pairs: pulumi.Output<Record<string, StackPairOutput>> }

/** `opts` reaches every HaPair (tests pass transformations to see resource options). */
export function hcloudStack(plans: PairPlan[], opts?: pulumi.ComponentResourceOptions): HcloudStack {
  const keys = new Map<string, hcloud.SshKey>()
  const components = plans.map((plan) => {
    const keyName = sshKeyName(plan.sshPublicKey)
    let key = keys.get(keyName)
    if (!key) {
      key = new hcloud.SshKey(keyName, { name: keyName, publicKey: plan.sshPublicKey, labels: { 'managed-by': 'hapair' } })
      keys.set(keyName, key)
    }
    return new HaPair(plan.pair.name, { plan, sshKeyId: key.id }, opts)
  })
  return { components, pairs: pulumi.all(Object.fromEntries(components.map((c, i) => [plans[i].pair.name, c.outputs]))) }
}
