/**
 * Ctrl-C (SIGINT) or SIGTERM asks a following command to stop: the first calls the command's
 * handler, which ends its loop cleanly (exit 0, a group's offsets committed); a second exits at
 * once with 130, for a user whose first Ctrl-C did not seem to work.
 *
 * The listeners stay registered until the command removes them (process.on, never once): ink
 * re-raises a signal that no other listener is left to handle, which would kill the process by
 * SIGINT before the command could finish.
 */

// 128 + SIGINT, the shell's convention for "interrupted".
export const INTERRUPTED_EXIT_CODE = 130

export function onInterrupt(handler: () => void): () => void {
  let interrupted = false
  const listener = () => {
    if (interrupted) process.exit(INTERRUPTED_EXIT_CODE)
    interrupted = true
    handler()
  }
  process.on('SIGINT', listener)
  process.on('SIGTERM', listener)
  return () => {
    process.off('SIGINT', listener)
    process.off('SIGTERM', listener)
  }
}
