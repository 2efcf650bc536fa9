/**
 * oclif's hook for a command that does not exist (`lignum consme`): one line on stderr (see
 * cli/unknown-command.ts) and exit code 2, as for every usage error. oclif's own message names
 * the command with its internal colons ("topics:lst") and suggests nothing.
 */
import type {Hook} from '@oclif/core'
import {unknownCommandMessage} from '../cli/unknown-command.js'
import {errorTable} from '../errors.js'

const hook: Hook<'command_not_found'> = async function ({id}) {
  process.stderr.write(`Error: ${unknownCommandMessage(this.config, id.split(':'))}\n`)
  this.exit(errorTable.INVALID_ARGUMENT.exitCode)
}

export default hook
