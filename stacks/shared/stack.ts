// What both stacks do before declaring anything: read the inventory path from the stack's
// config, load it through the playbooks' loader, and plan the pairs. Any problem becomes a
// RunError (Pulumi prints its message, not a stack trace), so a bad inventory fails the stack
// with the same located lines `validate` prints, and no resource is declared.
import { createHash } from 'node:crypto'
import path from 'node:path'
import * as pulumi from '@pulumi/pulumi'
import { DIGITALOCEAN_TOKEN_ENV } from '../../lib/cloud/digitalocean.ts'
import { HCLOUD_TOKEN_ENV } from '../../lib/cloud/hcloud.ts'
import { resolveToken } from '../../lib/cloud/token.ts'
import { InputError } from '../../lib/errors.ts'
import { loadInventory, type LoadedInventory } from '../../lib/inventory/load.ts'
import { provisionPlan, type PairPlan, type Provider } from '../../lib/provision/plan.ts'

export interface StackInput {
  inv: LoadedInventory
  plans: PairPlan[]
  /** The API token from provision.tokenFile (a secret), for an explicit provider; undefined: the provider reads its environment variable. */
  token?: pulumi.Output<string>
}

/** The config key is "<project>:inventory"; a relative path is taken from the project directory, where Pulumi runs the program. */
export function stackInput(project: string, provider: Provider): StackInput {
  try {
    const file = new pulumi.Config(project).get('inventory')
    if (!file) throw new InputError(`config ${project}:inventory is not set: pulumi config set ${project}:inventory ../../inventory/FILE.json`)
    const inv = loadInventory(path.resolve(file))
    const plans = provisionPlan(inv, provider)
    return { inv, plans, token: stackToken(plans, provider) }
  } catch (e) {
    if (e instanceof InputError) throw new pulumi.RunError(e.message)
    throw e
  }
}

/**
 * One token source per provider, the drivers' own order: provision.tokenFile (the same for every
 * pair of the provider; validate says so) read as the drivers read it, else the provider's
 * environment variable (HCLOUD_TOKEN, DIGITALOCEAN_TOKEN), which the Pulumi provider reads itself.
 */
export function stackToken(plans: PairPlan[], provider: Provider): pulumi.Output<string> | undefined {
  const file = plans.find((p) => p.tokenFile)?.tokenFile
  if (!file) return undefined
  const envVars = provider === 'hcloud' ? HCLOUD_TOKEN_ENV : DIGITALOCEAN_TOKEN_ENV
  return pulumi.secret(resolveToken({ envVars, tokenFile: file, dir: path.dirname(file), what: `the ${provider} stack` }))
}

/**
 * Resource name of an SSH key, from its content: providers refuse the same key twice in one
 * project, so pairs sharing a key share the resource, and reordering pairs renames nothing.
 */
export function sshKeyName(publicKey: string): string {
  return `ssh-key-${createHash('sha256').update(publicKey.split(/\s+/).slice(0, 2).join(' ')).digest('hex').slice(0, 12)}`
}

/** Hostnames allow neither "_" nor ".": node names may contain both. */
export const hostName = (name: string) => name.replace(/[_.]/g, '-')

/** Server ids are strings in Pulumi and integers in the providers' APIs and the inventory. */
export const numericId = (id: pulumi.Input<string>): pulumi.Output<number> => pulumi.output(id).apply((v) => Number(v))
