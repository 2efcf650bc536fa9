import {Args, Flags} from '@oclif/core'
import {ClientCommand} from '../../cli/client-command.js'
import {LignumCommand} from '../../cli/lignum-command.js'
import {summarizeTopic, type TopicSummary} from '../../ui/topic-table.js'

export default class TopicsCreate extends ClientCommand {
  static override summary = 'Create a topic.'
  static override examples = [
    '<%= config.bin %> topics create orders --partitions 6',
    '<%= config.bin %> topics create audit --retention-ms -1 --flush-policy always --json',
  ]
  static override enableJsonFlag = true
  static override args = {name: Args.string({required: true, description: 'topic name: 1 to 249 of [A-Za-z0-9._-]'})}
  static override flags = {
    ...LignumCommand.brokersFlag,
    ...LignumCommand.configFlag,
    partitions: Flags.integer({char: 'p', description: 'number of partitions', default: 1, min: 1}),
    'retention-ms': Flags.integer({description: 'delete segments older than this (-1: keep for ever)', min: -1}),
    'retention-bytes': Flags.integer({description: 'delete old segments past this size per partition (-1: no limit)', min: -1}),
    'segment-bytes': Flags.integer({description: 'roll segments past this size', min: 1}),
    'segment-ms': Flags.integer({description: 'roll segments older than this', min: 1}),
    'flush-policy': Flags.string({description: '"always", "never", or fdatasync every N ms'}),
    'replication-factor': Flags.integer({char: 'r', description: 'cluster mode: copies of each partition [default: min(3, live nodes)]', min: 1}),
    'unclean-leader-election': Flags.boolean({description: 'cluster mode: with no in-sync replica alive, let an out-of-sync one lead (loses acknowledged writes) instead of staying offline', default: false}),
    'min-insync-replicas': Flags.integer({description: 'cluster mode: in-sync copies an acks=all write needs [default: min(2, replication factor)]', min: 1}),
  }

  async run(): Promise<TopicSummary> {
    const {args, flags} = await this.parse(TopicsCreate)
    const client = await this.connect(flags)
    const optional = (value: number | undefined) => (value === undefined ? undefined : BigInt(value))
    const topic = summarizeTopic(
      await client.createTopic(args.name, flags.partitions, {
        retentionMs: optional(flags['retention-ms']),
        retentionBytes: optional(flags['retention-bytes']),
        segmentBytes: optional(flags['segment-bytes']),
        segmentMs: optional(flags['segment-ms']),
        flushPolicy: flags['flush-policy'],
        uncleanLeaderElection: flags['unclean-leader-election'] || undefined,
      }, {replicationFactor: flags['replication-factor'], minInsyncReplicas: flags['min-insync-replicas']}),
    )
    if (!this.jsonEnabled()) this.log(`Created topic ${topic.name} with ${topic.partitions.length} partition(s).`)
    return topic
  }
}
