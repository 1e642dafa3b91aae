// state.json records what `up` is about to create (written before the first namespace), so
// `down` can remove a half-built lab, or one whose inventory was edited since.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { LabPlan } from './plan.ts'

export interface LabState {
  version: 1
  lab: string
  inventory: string
  subnet: string
  controller: string
  rootVeth: string
  bridgeNs: string
  namespaces: string[]
  stateDir: string
  /** /run/netns did not exist before: `down` unmounts and removes it when no namespace is left. */
  createdRunNetns: boolean
  createdAt: string
}

export const stateFile = (stateDir: string) => path.join(stateDir, 'state.json')

export function stateFromPlan(plan: LabPlan, inventory: string, createdRunNetns: boolean): LabState {
  return {
    version: 1,
    lab: plan.lab,
    inventory,
    subnet: plan.subnet,
    controller: plan.controller,
    rootVeth: plan.rootVeth,
    bridgeNs: plan.bridgeNs,
    namespaces: [plan.bridgeNs, ...plan.nodes.map((n) => n.ns), ...plan.bastions.map((n) => n.ns)],
    stateDir: plan.stateDir,
    createdRunNetns,
    createdAt: new Date().toISOString(),
  }
}

export function readState(stateDir: string): LabState | undefined {
  try {
    const s = JSON.parse(readFileSync(stateFile(stateDir), 'utf8')) as LabState
    return s.version === 1 && Array.isArray(s.namespaces) ? s : undefined
  } catch {
    return undefined
  }
}

export function writeState(s: LabState): void {
  mkdirSync(s.stateDir, { recursive: true, mode: 0o700 })
  const tmp = stateFile(s.stateDir) + '.tmp'
  writeFileSync(tmp, JSON.stringify(s, null, 2) + '\n')
  renameSync(tmp, stateFile(s.stateDir))
}
