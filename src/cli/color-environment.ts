/**
 * Colour follows the user's environment in every command and view. NO_COLOR set and not empty
 * (https://no-color.org) turns it off, whatever FORCE_COLOR says (as oclif's own colours, ansis,
 * decide); otherwise FORCE_COLOR (0 to 3, true, false) and the terminal decide, as chalk and ink
 * expect. chalk, which ink draws its colours with, ignores NO_COLOR, so NO_COLOR becomes the
 * FORCE_COLOR=0 both libraries obey. They read it once, when loaded: the entry points (bin/)
 * import this module before anything else.
 */

/** Sets FORCE_COLOR=0 in `env` when NO_COLOR asks for no colour; leaves it alone otherwise. */
export function applyNoColor(env: NodeJS.ProcessEnv = process.env): void {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') env.FORCE_COLOR = '0'
}

applyNoColor()
