// The hcloud stack as a function of a loaded inventory, so tests can run it under mocks.
import * as pulumi from '@pulumi/pulumi'
import * as hcloud from '@pulumi/hcloud'
import type { StackPairOutput } from '../../lib/provision/outputs.ts'
import type { PairPlan } from '../../lib/provision/plan.ts'
import { sshKeyName } from '../shared/stack.ts'
import { HaPair } from './ha-pair.ts'

export interface HcloudStack {
  components: HaPair[]
  pairs: pulumi.Output<Record<string, StackPairOutput>>
}

/**
 * The SSH key each pair's servers get: one already in the project (provision.sshKey, looked up
 * so a wrong name or id fails the preview, and never created: Hetzner refuses a second key with
 * the same fingerprint), else one created per distinct public key and shared by the pairs.
 */
function sshKeyIds(plans: PairPlan[], provider?: hcloud.Provider): pulumi.Output<string>[] {
  const created = new Map<string, hcloud.SshKey>()
  return plans.map((plan) => {
    const existing = plan.existingSshKey
    if (existing) {
      const args = existing.id !== undefined ? { id: existing.id } : { name: existing.name! }
      return hcloud.getSshKeyOutput(args, { provider }).apply((k) => String(k.id))
    }
    const keyName = sshKeyName(plan.sshPublicKey!)
    let key = created.get(keyName)
    if (!key) {
      key = new hcloud.SshKey(keyName, { name: keyName, publicKey: plan.sshPublicKey!, labels: { 'managed-by': 'hapair' } }, { provider })
      created.set(keyName, key)
    }
    return key.id
  })
}

/**
 * `opts` reaches every HaPair (tests pass transformations to see resource options). `token`
 * (stackToken: provision.tokenFile) makes an explicit provider with it; without, the default
 * provider reads HCLOUD_TOKEN, as the playbooks' drivers do.
 */
export function hcloudStack(plans: PairPlan[], opts?: pulumi.ComponentResourceOptions, token?: pulumi.Input<string>): HcloudStack {
  const provider = token === undefined ? undefined : new hcloud.Provider('hcloud-token-file', { token })
  const keys = sshKeyIds(plans, provider)
  const components = plans.map(
    (plan, i) => new HaPair(plan.pair.name, { plan, sshKeyId: keys[i] }, { ...opts, ...(provider ? { providers: [provider] } : {}) }),
  )
  return { components, pairs: pulumi.all(Object.fromEntries(components.map((c, i) => [plans[i].pair.name, c.outputs]))) }
}
