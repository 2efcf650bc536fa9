import {Args, Help} from '@oclif/core'
import {LignumCommand} from '../cli/lignum-command.js'
import {unknownCommandMessage} from '../cli/unknown-command.js'
import {LignumError} from '../errors.js'

/** `lignum help <command>`, as people type it, shows what `lignum <command> --help` shows. */
export default class HelpCommand extends LignumCommand {
  static override summary = 'Show help for lignum or one of its commands.'
  static override examples = ['<%= config.bin %> help', '<%= config.bin %> help consume', '<%= config.bin %> help topics create']
  static override strict = false
  static override args = {command: Args.string({description: 'the command, e.g. consume or topics create'})}

  async run(): Promise<void> {
    const {argv} = await this.parse(HelpCommand)
    const words = argv as string[]
    const id = words.join(':')
    if (id !== '' && !this.config.findCommand(id) && this.config.topics.every((topic) => topic.name !== id)) {
      throw new LignumError('NOT_FOUND', unknownCommandMessage(this.config, words))
    }
    await new Help(this.config).showHelp(words)
  }
}
