// Driver registry: the inventory names a driver, this returns the object that implements it.
import { InputError } from '../errors.ts'
import type { FloatingIp } from '../inventory/schema.ts'
import { LinuxIpDriver } from './ip-linux.ts'
import { HcloudIpDriver } from './ip-hcloud.ts'
import { DigitalOceanIpDriver } from './ip-digitalocean.ts'
import { HcloudFenceDriver } from './fence-hcloud.ts'
import { DigitalOceanFenceDriver } from './fence-digitalocean.ts'
import { LabFenceDriver } from './fence-lab.ts'
import { LeaseFenceDriver } from './fence-lease.ts'
import type { DriverContext, FenceDriver, IpDriver } from './types.ts'

type IpFactory = (fip: FloatingIp, ctx: DriverContext) => IpDriver
type FenceFactory = (ctx: DriverContext) => FenceDriver

const ipDrivers: Record<string, IpFactory> = {
  linux: (fip, ctx) => new LinuxIpDriver(fip, ctx),
  hcloud: (fip, ctx) => new HcloudIpDriver(fip, ctx),
  digitalocean: (fip, ctx) => new DigitalOceanIpDriver(fip, ctx),
}
const fenceDrivers: Record<string, FenceFactory> = {
  lab: (ctx) => new LabFenceDriver(ctx),
  hcloud: (ctx) => new HcloudFenceDriver(ctx),
  digitalocean: (ctx) => new DigitalOceanFenceDriver(ctx),
  lease: (ctx) => new LeaseFenceDriver(ctx),
}

export function registerIpDriver(kind: string, f: IpFactory) {
  ipDrivers[kind] = f
}
export function registerFenceDriver(kind: string, f: FenceFactory) {
  fenceDrivers[kind] = f
}

export function ipDriver(fip: FloatingIp, ctx: DriverContext): IpDriver {
  const f = ipDrivers[fip.driver]
  if (!f) throw new InputError(`floating IP ${fip.address}: driver "${fip.driver}" is not available (have: ${Object.keys(ipDrivers).join(', ')})`)
  const d = f(fip, ctx)
  const problems = d.validate()
  if (problems.length) throw new InputError(`floating IP ${fip.address} (${fip.driver}): ${problems.join('; ')}`, problems)
  return d
}

/** The pair's fencing driver, or undefined when it has none (or "none"). */
export function fenceDriver(ctx: DriverContext): FenceDriver | undefined {
  const kind = ctx.pair.fencing?.driver
  if (!kind || kind === 'none') return undefined
  const f = fenceDrivers[kind]
  if (!f) throw new InputError(`pair ${ctx.pair.name}: fencing driver "${kind}" is not available (have: ${Object.keys(fenceDrivers).join(', ') || 'none'})`)
  const d = f(ctx)
  const problems = d.validate()
  if (problems.length) throw new InputError(`pair ${ctx.pair.name}: fencing (${kind}): ${problems.join('; ')}`, problems)
  return d
}
