// One remote command made of several readers' scripts, each in its own subshell (so a reader's
// `exit 0` ends only its part), its output marked by a section header; and the split back into
// each reader's output, for its own parser. A command is a channel open, exec and close, and
// the node's sshd starts a session for each: several reads of one node cost one.
//
// The marker is a byte no record holds (JSON escapes control characters; lock files are
// hapair's own) around the part's name, so one part's output can never end another part early.
const MARK = '\x1d'

/** The script: each part's script in order, under its header, then `exit 0`. */
export function sectionsScript(parts: readonly (readonly [name: string, script: string])[]): string {
  return parts.map(([name, script]) => `printf '\\035hapair-${name}\\035'\n(\n${script}\n)`).join('\n') + '\nexit 0'
}

/** Each part's output by name; undefined when they are not all there, in order, once each. Pure. */
export function splitSections<N extends string>(stdout: string, names: readonly N[]): Record<N, string> | undefined {
  const chunks = stdout.split(MARK)
  // '' before the first marker, then name, body, name, body, ...
  if (chunks.length !== 1 + 2 * names.length || chunks[0] !== '') return undefined
  const out = {} as Record<N, string>
  for (let i = 0; i < names.length; i++) {
    if (chunks[1 + 2 * i] !== `hapair-${names[i]}`) return undefined
    out[names[i]] = chunks[2 + 2 * i]
  }
  return out
}
