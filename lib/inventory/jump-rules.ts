// What the schema cannot say about bastions (ssh.jump) and the lab's bastion hosts: a chain that
// visits a host twice or ends at the node itself, one name for two bastions (its known_hosts
// lines would pin both), and lab bastions that collide with the lab's other addresses.
import { inSubnet, ipKey, parseCidr, reservedInSubnet } from './address.ts'
import type { Inventory, SshSettings } from './schema.ts'
import type { Problem } from './validate.ts'

const hopKey = (address: string, port: number | undefined) => `${address.toLowerCase()}:${port ?? 22}`

export function jumpProblems(inv: Inventory, out: Problem[]): void {
  const blocks: [string, SshSettings | undefined][] = [['defaults/ssh', inv.defaults?.ssh]]
  inv.pairs.forEach((p, pi) => {
    blocks.push([`pairs/${pi}/ssh`, p.ssh])
    p.nodes.forEach((n, ni) => blocks.push([`pairs/${pi}/nodes/${ni}/ssh`, n.ssh]))
  })
  const nodeNames = new Set(inv.pairs.flatMap((p) => p.nodes.map((n) => n.name)))
  const names = new Map<string, { address: string; at: string }>()
  for (const [at, ssh] of blocks) {
    const seen = new Map<string, number>()
    ssh?.jump?.forEach((h, hi) => {
      const hat = `${at}/jump/${hi}`
      const k = hopKey(h.address, h.port)
      if (seen.has(k))
        out.push({
          path: `${hat}/address`,
          message: `${h.address} port ${h.port ?? 22} is already hop ${seen.get(k)} of this chain: a chain visits each bastion once`,
        })
      else seen.set(k, hi)
      if (h.name === undefined) return
      if (nodeNames.has(h.name))
        out.push({ path: `${hat}/name`, message: `"${h.name}" is a node's name: a bastion needs its own (known_hosts lines may pin a host by name)` })
      const first = names.get(h.name)
      if (first && first.address.toLowerCase() !== h.address.toLowerCase())
        out.push({ path: `${hat}/name`, message: `"${h.name}" already names the bastion ${first.address} (${first.at}): one name, one bastion` })
      else if (!first) names.set(h.name, { address: h.address, at: hat })
    })
  }
  // The chain a node really uses (the lowest level that sets jump) must not lead back to the node.
  inv.pairs.forEach((p, pi) =>
    p.nodes.forEach((n, ni) => {
      if (n.address === undefined) return
      const levels: [string, SshSettings | undefined][] = [
        [`pairs/${pi}/nodes/${ni}/ssh`, n.ssh],
        [`pairs/${pi}/ssh`, p.ssh],
        ['defaults/ssh', inv.defaults?.ssh],
      ]
      const [at, ssh] = levels.find(([, s]) => s?.jump !== undefined) ?? []
      if (!at || !ssh?.jump) return
      const port = n.ssh?.port ?? p.ssh?.port ?? inv.defaults?.ssh?.port ?? 22
      ssh.jump.forEach((h, hi) => {
        if (hopKey(h.address, h.port) === hopKey(n.address, port))
          out.push({
            path: `${at}/jump/${hi}/address`,
            message: `${h.address} port ${port} is node ${n.name} itself: a node cannot be its own bastion (set "jump": [] on it)`,
          })
      })
    }),
  )
  labBastionProblems(inv, out)
}

function labBastionProblems(inv: Inventory, out: Problem[]): void {
  const lab = inv.lab
  if (!lab?.bastions) return
  const taken = new Map<string, string>()
  inv.pairs.forEach((p, pi) => {
    p.nodes.forEach((n, ni) => {
      if (n.address) taken.set(ipKey(n.address), `pairs/${pi}/nodes/${ni}/address`)
    })
    p.floatingIps?.forEach((f, fi) => taken.set(ipKey(f.address), `pairs/${pi}/floatingIps/${fi}/address`))
  })
  const nodeNames = new Set(inv.pairs.flatMap((p) => p.nodes.map((n) => n.name)))
  const names = new Map<string, number>()
  lab.bastions.forEach((b, bi) => {
    const at = `lab/bastions/${bi}`
    if (b.name === 'controller' || nodeNames.has(b.name))
      out.push({
        path: `${at}/name`,
        message: `"${b.name}" is already ${b.name === 'controller' ? "the controller's name in lab faults" : "a node's name"}: lab fault and lab exec need one host per name`,
      })
    else if (names.has(b.name)) out.push({ path: `${at}/name`, message: `duplicate bastion name "${b.name}" (first at lab/bastions/${names.get(b.name)})` })
    else names.set(b.name, bi)
    // An unusable subnet is reported at lab/subnet already.
    if (!parseCidr(lab.subnet)) return
    if (!inSubnet(b.address, lab.subnet)) return void out.push({ path: `${at}/address`, message: `${b.address} is not inside the lab subnet ${lab.subnet}` })
    if (reservedInSubnet(b.address, lab.subnet))
      return void out.push({ path: `${at}/address`, message: `${b.address} is the network or broadcast address of ${lab.subnet}` })
    if (b.address === lab.controller) return void out.push({ path: `${at}/address`, message: `${b.address} is the lab controller's address` })
    const k = ipKey(b.address)
    if (taken.has(k)) out.push({ path: `${at}/address`, message: `address ${b.address} is already used by ${taken.get(k)}` })
    else taken.set(k, `${at}/address`)
  })
}
