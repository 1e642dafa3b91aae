// The DigitalOcean stack as a function of the planned pairs, so tests can run it under mocks.
import * as pulumi from '@pulumi/pulumi'
import * as digitalocean from '@pulumi/digitalocean'
import type { StackPairOutput } from '../../lib/provision/outputs.ts'
import type { PairPlan } from '../../lib/provision/plan.ts'
import { sshKeyName } from '../shared/stack.ts'
import { HaPair } from './ha-pair.ts'

export interface DigitalOceanStack {
  components: HaPair[]
  pairs: pulumi.Output<Record<string, StackPairOutput>>
}

/**
 * What each pair's droplets name their SSH key by: a key already in the account
 * (provision.sshKey: by name, looked up for its fingerprint; by id, which droplets accept as
 * it is), never created, since DigitalOcean refuses a second key with the same fingerprint;
 * else one created per distinct public key and shared by the pairs.
 */
function sshKeyRefs(plans: PairPlan[], provider?: digitalocean.Provider): pulumi.Output<string>[] {
  const created = new Map<string, digitalocean.SshKey>()
  return plans.map((plan) => {
    const existing = plan.existingSshKey
    if (existing) {
      if (existing.id !== undefined) return pulumi.output(String(existing.id))
      return digitalocean.getSshKeyOutput({ name: existing.name! }, { provider }).apply((k) => k.fingerprint)
    }
    const keyName = sshKeyName(plan.sshPublicKey!)
    let key = created.get(keyName)
    if (!key) {
      key = new digitalocean.SshKey(keyName, { name: keyName, publicKey: plan.sshPublicKey! }, { provider })
      created.set(keyName, key)
    }
    return key.fingerprint
  })
}

/**
 * `opts` reaches every HaPair (tests pass transformations to see resource options). `token`
 * (stackToken: provision.tokenFile) makes an explicit provider with it; without, the default
 * provider reads DIGITALOCEAN_TOKEN, as the playbooks' drivers do.
 */
export function digitaloceanStack(plans: PairPlan[], opts?: pulumi.ComponentResourceOptions, token?: pulumi.Input<string>): DigitalOceanStack {
  const provider = token === undefined ? undefined : new digitalocean.Provider('digitalocean-token-file', { token })
  const keys = sshKeyRefs(plans, provider)
  const components = plans.map(
    (plan, i) => new HaPair(plan.pair.name, { plan, sshKeyFingerprint: keys[i] }, { ...opts, ...(provider ? { providers: [provider] } : {}) }),
  )
  return { components, pairs: pulumi.all(Object.fromEntries(components.map((c, i) => [plans[i].pair.name, c.outputs]))) }
}
