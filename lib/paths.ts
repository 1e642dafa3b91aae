// Absolute paths as the inventory spells them, compared by what they name: validation, sync's
// protected paths and the hostile-value rules must agree on whether one path lies inside another.

/** One spelling per path: '/srv//app/./x/' is '/srv/app/x' (".." is refused by validation). */
export const normalPath = (p: string) =>
  '/' +
  p
    .split('/')
    .filter((s) => s && s !== '.')
    .join('/')

/** Validation refuses "..", so normalPath never has to resolve one against a node's links. */
export const hasDotDot = (p: string) => p.split('/').includes('..')

/** True when child is parent or lies below it, however either is spelled. */
export const within = (child: string, parent: string) => {
  const c = normalPath(child),
    base = normalPath(parent)
  return base === '/' || c === base || c.startsWith(base + '/')
}
