// The DigitalOcean stack as a function of the planned pairs, so tests can run it under mocks.
import * as pulumi from '@pulumi/pulumi'
import * as digitalocean from '@pulumi/digitalocean'
import type { StackPairOutput } from '../../lib/provision/outputs.ts'
import type { PairPlan } from '../../lib/provision/plan.ts'
import { sshKeyName } from '../shared/stack.ts'
import { HaPair } from './ha-pair.ts'

export interface DigitalOceanStack { components: HaPair[]; pairs: pulumi.Output<Record<string, StackPairOutput>> }

/** `opts` reaches every HaPair (tests pass transformations to see resource options). */
export function digitaloceanStack(plans: PairPlan[], opts?: pulumi.ComponentResourceOptions): DigitalOceanStack {
  const keys = new Map<string, digitalocean.SshKey>()
  const components = plans.map((plan) => {
    const keyName = sshKeyName(plan.sshPublicKey)
    let key = keys.get(keyName)
    if (!key) {
      key = new digitalocean.SshKey(keyName, { name: keyName, publicKey: plan.sshPublicKey })
      keys.set(keyName, key)
    }
    return new HaPair(plan.pair.name, { plan, sshKeyFingerprint: key.fingerprint }, opts)
  })
  return { components, pairs: pulumi.all(Object.fromEntries(components.map((c, i) => [plans[i].pair.name, c.outputs]))) }
}
