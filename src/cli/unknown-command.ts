/**
 * What to say about a command that does not exist (`lignum consme`, `lignum help topics lst`):
 * the words as typed, the nearest real command when one is a typo away, and where the list is.
 */
import type {Interfaces} from '@oclif/core'

// Edits (Levenshtein) within which a command counts as what the user meant: one or two typos.
const SUGGESTION_EDITS_MAX = 2

export function unknownCommandMessage(config: Interfaces.Config, words: string[]): string {
  const typed = words.join(' ')
  const suggestion = nearestCommand(typed, config.commandIDs.map((id) => id.replaceAll(':', ' ')))
  const hint = suggestion ? ` (did you mean "${config.bin} ${suggestion}"?)` : ''
  return `no command "${typed}"${hint}; run "${config.bin} help" to list the commands`
}

function nearestCommand(typed: string, commands: string[]): string | undefined {
  let nearest: string | undefined
  let nearestEdits = SUGGESTION_EDITS_MAX + 1
  for (const command of commands) {
    const edits = editDistance(typed, command)
    if (edits < nearestEdits) [nearest, nearestEdits] = [command, edits]
  }
  return nearest
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({length: b.length + 1}, (_, index) => index)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]
}
