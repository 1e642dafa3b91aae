// Floating IP held by the node's own kernel: `ip addr` over SSH plus a gratuitous ARP so
// neighbours update their caches at once instead of after their ARP timeout.
import { RemoteError } from '../errors.ts'
import type { FloatingIp, Node } from '../inventory/schema.ts'
import { sh } from '../shell.ts'
import type { ActionResult, DriverContext, HoldState, IpDriver } from './types.ts'

const isV6 = (a: string) => a.includes(':')

/**
 * The announcement itself, `perl -e` with no module: COUNT gratuitous ARP requests for ADDR from
 * DEV's MAC (sender = target = ADDR, what Linux and switches take as an update), GAP seconds
 * apart, through a packet socket. arping took 40-60 ms from exec to its first packet (Habets'
 * opens libpcap and maps a 2 MB ring first), plus its --help to tell the two arpings apart: that
 * was most of the time between the address moving and a client reaching the new node. This one
 * sends within a few ms. perl-base is part of every Debian; where perl is missing, arping does it.
 */
export const ANNOUNCER = [
  'my ($dev, $ip, $count, $gap) = @ARGV;',
  'sub rd { open(my $f, \'<\', $_[0]) or die "$_[0]: $!\\n"; my $v = <$f>; chomp $v; $v }',
  "my $mac = pack('H12', join('', split(/:/, rd(\"/sys/class/net/$dev/address\"))));",
  'my $idx = rd("/sys/class/net/$dev/ifindex");',
  '$ip =~ /^(\\d+)\\.(\\d+)\\.(\\d+)\\.(\\d+)$/ or die "not an IPv4 address: $ip\\n";',
  "my $a = pack('C4', $1, $2, $3, $4);",
  // Ethernet broadcast, ARP request (htype 1, ptype IPv4), sender MAC/ADDR, target 0/ADDR, padded to 60.
  'my $frame = ("\\xff" x 6) . $mac . pack(\'n\', 0x0806) . pack(\'nnCCn\', 1, 0x0800, 6, 4, 1) . $mac . $a . ("\\0" x 6) . $a;',
  '$frame .= "\\0" x (60 - length $frame);',
  // AF_PACKET (17), SOCK_RAW (3); sockaddr_ll names the interface.
  'socket(my $s, 17, 3, 0) or die "packet socket: $!\\n";',
  "my $to = pack('SnlSCCa8', 17, 0x0806, $idx, 1, 0, 6, $mac);",
  'for my $i (1 .. $count) { send($s, $frame, 0, $to) or die "send: $!\\n"; select(undef, undef, undef, $gap) if $i < $count }',
].join('\n')

/** Parses `ip -o addr show dev IF` output: is ADDR configured? */
export function holdsAddress(ipOutput: string, address: string): boolean {
  return ipOutput.split('\n').some((l) => {
    const m = /\binet6?\s+([0-9a-fA-F.:]+)\//.exec(l)
    return !!m && m[1].toLowerCase() === address.toLowerCase()
  })
}

export class LinuxIpDriver implements IpDriver {
  readonly kind = 'linux'
  constructor(
    readonly fip: FloatingIp,
    private readonly ctx: DriverContext,
  ) {}

  private iface(node: Node): string {
    return this.fip.interface ?? node.interface ?? 'eth0'
  }
  private cidr(): string {
    return `${this.fip.address}/${this.fip.prefix ?? (isV6(this.fip.address) ? 64 : 32)}`
  }

  validate(): string[] {
    return isV6(this.fip.address) && (this.fip.prefix ?? 64) > 128 ? [`prefix ${this.fip.prefix} too long for IPv6`] : []
  }

  /** Nothing to ask ahead: acting needs SSH to the node, which the failover's own preflight asks. */
  async check(): Promise<string[]> {
    return []
  }

  private async probe(node: Node): Promise<HoldState> {
    try {
      const r = await this.ctx.pool.session(this.ctx.pair, node).run(['ip', '-o', 'addr', 'show', 'dev', this.iface(node)])
      return holdsAddress(r.stdout, this.fip.address) ? 'held' : 'free'
    } catch (e) {
      // A node that cannot be asked (or is not the host we pinned) holds "unknown", and only it:
      // one bad node must not hide what the others hold.
      if (e instanceof RemoteError && e.notAsked) return 'unknown'
      throw e
    }
  }

  async status(): Promise<Record<string, HoldState>> {
    const states = await Promise.all(this.ctx.pair.nodes.map((n) => this.probe(n)))
    return Object.fromEntries(this.ctx.pair.nodes.map((n, i) => [n.name, states[i]]))
  }

  /** Where a node keeps the pid of its announcer for this address (so a release can stop it). */
  private announcerPid(): string {
    return `/run/hapair/garp-${this.fip.address.replace(/[^0-9A-Za-z]/g, '_')}.pid`
  }

  /** Stops this node's pending announcements of the address, if any. */
  private silenceScript(): string {
    const pid = this.announcerPid()
    return sh`[ -f ${pid} ] && kill "$(cat ${pid})" 2>/dev/null; rm -f ${pid}` + '; true'
  }

  /** Probe and act in one round trip; the branch on the probe is what makes it idempotent. */
  private startScript(node: Node): string {
    const dev = this.iface(node)
    const addr = this.fip.address
    const add = isV6(addr) ? sh`ip -6 addr add ${this.cidr()} dev ${dev} nodad` : sh`ip addr add ${this.cidr()} dev ${dev}`
    // Two announcements a second apart, run detached (the second must not hold the step), its pid
    // kept so that releasing the address can silence it. Without perl: arping, of which two
    // implementations ship (iputils: -I, Habets: -i -S); neither gets a reply to an unsolicited
    // announcement, and Habets' waits a second for one.
    const pid = this.announcerPid()
    const announce = isV6(addr)
      ? 'true'
      : 'mkdir -p /run/hapair; ' +
        this.silenceScript() +
        '; ' +
        '{ if command -v perl >/dev/null 2>&1; then ' +
        sh`perl -e ${ANNOUNCER} ${dev} ${addr} 2 1` +
        ' </dev/null >/dev/null 2>&1 & elif arping --help 2>&1 | grep -q Habets; then ' +
        sh`arping -q -U -c 2 -i ${dev} -S ${addr} ${addr}` +
        ' </dev/null >/dev/null 2>&1 & else ' +
        sh`arping -q -U -c 2 -I ${dev} ${addr}` +
        ' </dev/null >/dev/null 2>&1 & fi; ' +
        sh`echo $! > ${pid}; }`
    // Already there is announced again: a re-run after a crash or a cut link must not leave
    // neighbours pointing at the old holder.
    return `if ${this.probeScript(node)}; then { ${announce}; } && echo already; else ${add} && { ${announce}; } && echo changed; fi`
  }

  private stopScript(node: Node): string {
    // A late announcement from the old holder, landing after the new holder's, would point
    // clients back at the old node: silence it before releasing the address.
    return (
      `${this.silenceScript()}; ${this.probeScript(node)} || { echo already; exit 0; }; ` +
      sh`ip addr del ${this.cidr()} dev ${this.iface(node)}` +
      ' && echo changed'
    )
  }

  /** Exit 0 when the address is on the interface. */
  private probeScript(node: Node): string {
    return sh`ip -o addr show dev ${this.iface(node)}` + ' | grep -qiE ' + sh`${'inet6? ' + this.fip.address.replace(/\./g, '\\.') + '/'}`
  }

  describe(action: 'start' | 'stop', node: Node): string[] {
    return action === 'start'
      ? [`${node.name}: ${sh`ip addr add ${this.cidr()} dev ${this.iface(node)}`} + gratuitous ARP (add skipped if already there; announced either way)`]
      : [`${node.name}: ${sh`ip addr del ${this.cidr()} dev ${this.iface(node)}`} (skipped if not there)`]
  }

  async start(node: Node): Promise<ActionResult> {
    const r = await this.ctx.pool.session(this.ctx.pair, node).run({ script: this.startScript(node) })
    return r.stdout.includes('changed')
      ? { changed: true, detail: `${this.fip.address} added on ${node.name}:${this.iface(node)}` }
      : { changed: false, detail: `${this.fip.address} already on ${node.name} (announced again)` }
  }

  async stop(node: Node): Promise<ActionResult> {
    let r
    try {
      r = await this.ctx.pool.session(this.ctx.pair, node).run({ script: this.stopScript(node) })
    } catch (e) {
      if (e instanceof RemoteError && (e.unreachable || e.timedOut))
        throw new RemoteError(`cannot release ${this.fip.address}: ${e.message}`, { node: node.name, host: node.address, unreachable: true, cause: e })
      throw e
    }
    return r.stdout.includes('changed')
      ? { changed: true, detail: `${this.fip.address} removed from ${node.name}` }
      : { changed: false, detail: `${this.fip.address} not on ${node.name}` }
  }
}
