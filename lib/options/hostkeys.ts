import { DRY_RUN, INVENTORY, JSON_OUTPUT, definePlaybook } from '../cli/define.ts'

export const HOSTKEYS = definePlaybook({
  playbook: 'hostkeys',
  synopsis: [
    'pin NODE --fingerprint SHA256:... [--dry-run] [--inventory FILE] [--pair NAME] [--json]',
    'show [NODE] [--inventory FILE] [--pair NAME] [--json]',
  ],
  commands: [
    {
      name: 'pin NODE',
      help:
        "for an existing server or a rebuilt node: compares the key NODE's sshd presents with the fingerprint read on its console " +
        "(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and, only if they are the same, replaces NODE's entry in the controller's " +
        "known_hosts and in every other node's sync.nodeKnownHostsFile (under the sync's host-key alias). The presented key is never " +
        'trusted, only compared. Pinning the key already pinned changes nothing.',
    },
    { name: 'show [NODE]', help: "the fingerprints each file pins, per node (only NODE's, when given)" },
  ],
  options: [
    INVENTORY,
    { name: 'pair', type: 'string', value: 'NAME', noun: 'a pair name', help: 'the pair of NODE (needed when several pairs have a node of that name)' },
    { name: 'fingerprint', type: 'string', value: 'SHA256:...', noun: 'a fingerprint', help: "pin: the key's fingerprint, read on the node's console" },
    { ...DRY_RUN, help: 'pin: check the key and say which files would change, write nothing' },
    JSON_OUTPUT,
  ],
  exit:
    'exit 0 done; 1 failed (a node could not be reached: the files updated and not are listed); 2 bad input (nothing touched); ' +
    '3 refused: the presented key is not the fingerprint given (nothing written)',
})
