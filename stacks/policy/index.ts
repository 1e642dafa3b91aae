// pulumi preview --policy-pack stacks/policy (from stacks/hcloud or stacks/digitalocean): the
// rules in rules.ts, mandatory, so a violation fails the preview and `pulumi up`.
import { PolicyPack } from '@pulumi/policy'
import { policies } from './rules.ts'

new PolicyPack('hapair', { policies })
