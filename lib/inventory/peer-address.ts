// Where a node's peers reach it. A pair on a private network (privateAddress, written by
// import-stack) keeps node-to-node traffic there: the firewall admits the peers on no public
// address. The controller is not on that network and keeps using `address`.
import type { Node } from './schema.ts'

export const peerAddress = (n: Pick<Node, 'address' | 'privateAddress'>): string => n.privateAddress ?? n.address
