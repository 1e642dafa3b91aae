// The policy pack's rules (stacks/policy/rules.ts) run against what a stack program declares
// under the mocks: each resource as the engine would hand it to a stack policy (type, name, URN,
// its inputs and computed outputs, its parent), the pair components with what they register.
import * as pulumi from '@pulumi/pulumi'
import type { PolicyResource, StackValidationPolicy } from '@pulumi/policy'
import { stateOf, value } from './mocks.ts'
import { policies } from '../../stacks/policy/rules.ts'

export interface Violation {
  policy: string
  message: string
  urn?: string
}

/** Records every resource under the components a program builds with these options. */
export function recorder() {
  const seen: { resource: pulumi.Resource; type: string; name: string; parent?: pulumi.Resource }[] = []
  const record: pulumi.ResourceTransformation = (a) => {
    seen.push({ resource: a.resource, type: a.type, name: a.name, parent: a.opts.parent })
    return undefined
  }
  return {
    opts: { transformations: [record] } as pulumi.ComponentResourceOptions,
    /** The recorded resources as a stack policy sees them; every Output is resolved. */
    async resources(): Promise<PolicyResource[]> {
      const out = await Promise.all(
        seen.map(async (s) => {
          const urn = await value(s.resource.urn)
          let props: Record<string, any>
          // Asked now, not in the transformation: a resource is marked custom after it has run.
          if (pulumi.CustomResource.isInstance(s.resource)) {
            const id = await value((s.resource as pulumi.CustomResource).id)
            props = { ...structuredClone(stateOf(id) ?? {}), id }
          } else {
            // What the component passed to registerOutputs.
            props = { declared: structuredClone((s.resource as unknown as { declared: unknown }).declared) }
          }
          const r: PolicyResource = {
            type: s.type,
            name: s.name,
            urn,
            props,
            opts: { protect: false, ignoreChanges: [], aliases: [], additionalSecretOutputs: [] } as unknown as PolicyResource['opts'],
            dependencies: [],
            propertyDependencies: {},
            isType: () => false,
            asType: () => undefined,
          }
          return r
        }),
      )
      seen.forEach((s, i) => {
        const p = seen.findIndex((x) => x.resource === s.parent)
        if (p >= 0) out[i].parent = out[p]
      })
      return out
    },
  }
}

/** Runs each stack policy the pack has over the resources; every reported violation, in order. */
export async function runPolicies(resources: PolicyResource[], pack: StackValidationPolicy[] = policies): Promise<Violation[]> {
  const out: Violation[] = []
  for (const p of pack) {
    await p.validateStack(
      {
        resources,
        stackTags: new Map(),
        getConfig: <T extends object>() => ({}) as T,
        notApplicable: (reason?: string): never => {
          throw new Error(`policy ${p.name} not applicable: ${reason}`)
        },
      },
      (message, urn) => out.push({ policy: p.name, message, ...(urn ? { urn } : {}) }),
    )
  }
  return out
}

/** The one resource of a type whose name ends so. */
export function find(resources: PolicyResource[], type: string, name: string): PolicyResource {
  const hits = resources.filter((r) => r.type === type && r.name.endsWith(name))
  if (hits.length !== 1) throw new Error(`${hits.length} resources of type ${type} named *${name}: ${resources.map((r) => r.name).join(', ')}`)
  return hits[0]
}
