import {Args, Flags} from '@oclif/core'
import {ClientCommand} from '../../cli/client-command.js'
import {planSeek} from '../../cli/group-seek-plan.js'
import {LignumCommand} from '../../cli/lignum-command.js'
import {parseSeekTarget, parseTopicSelection} from '../../cli/seek-target.js'
import type {GroupOffsetChange} from '../../client/index.js'
import {renderOffsetChanges} from '../../ui/group-table.js'

/** A change as --json prints it: null, not a missing key, where the group had no offset. */
type SeekChange = Omit<GroupOffsetChange, 'previousOffset'> & {previousOffset: number | null}

export default class GroupsSeek extends ClientCommand {
  static override summary = 'Move a consumer group\'s committed offsets: to the beginning, the end, an offset, or a time.'
  static override description =
    'Without -t, every partition of every topic the group has offsets for. Refused while the group has live members unless --force (as kafka-consumer-groups --reset-offsets). Prints old → new per partition.'
  static override examples = [
    '<%= config.bin %> groups seek readers --to beginning',
    '<%= config.bin %> groups seek readers --to end -t orders',
    '<%= config.bin %> groups seek readers --to 42 -t orders:0,1',
    '<%= config.bin %> groups seek readers --to @2026-01-01T00:00:00Z --dry-run',
  ]
  static override enableJsonFlag = true
  static override args = {group: Args.string({required: true, description: 'consumer group id'})}
  static override flags = {
    to: Flags.string({required: true, description: 'beginning, end, an offset, or @<epoch-ms> / @<ISO time>: the first offset at or after it'}),
    topic: Flags.string({char: 't', multiple: true, description: 'TOPIC or TOPIC:partition[,partition] to move (repeatable) [default: the topics the group has offsets for]'}),
    force: Flags.boolean({default: false, description: 'move even while the group has live members (their next commit may overwrite it)'}),
    'dry-run': Flags.boolean({default: false, description: 'print what would move, commit nothing'}),
    ...LignumCommand.brokersFlag,
    ...LignumCommand.configFlag,
  }

  async run(): Promise<{group: string; dryRun: boolean; changes: SeekChange[]}> {
    const {args, flags} = await this.parse(GroupsSeek)
    const target = parseSeekTarget(flags.to)
    const selections = (flags.topic ?? []).map(parseTopicSelection)
    const client = await this.connect(flags)
    const plan = await planSeek(client, args.group, selections, target)
    for (const warning of plan.warnings) process.stderr.write(`Warning: ${warning}\n`)
    const dryRun = flags['dry-run']
    const changes = await client.resetGroupOffsets(args.group, plan.offsets, {force: flags.force, dryRun})
    if (!this.jsonEnabled()) {
      this.log(renderOffsetChanges(changes))
      this.log(dryRun ? `Dry run: nothing committed; without --dry-run group ${args.group} moves on ${changes.length} partition(s).` : `Moved group ${args.group} on ${changes.length} partition(s).`)
    }
    return {group: args.group, dryRun, changes: changes.map((change) => ({...change, previousOffset: change.previousOffset ?? null}))}
  }
}
