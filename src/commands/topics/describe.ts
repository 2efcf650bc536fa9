import {Args} from '@oclif/core'
import {ClientCommand} from '../../cli/client-command.js'
import {LignumCommand} from '../../cli/lignum-command.js'
import {renderTopicPartitions, summarizeTopic, type TopicSummary} from '../../ui/topic-table.js'

export default class TopicsDescribe extends ClientCommand {
  static override summary = 'Describe a topic: its settings and, per partition, leader and offsets.'
  static override examples = ['<%= config.bin %> topics describe orders', '<%= config.bin %> topics describe orders --json']
  static override enableJsonFlag = true
  static override args = {name: Args.string({required: true, description: 'topic name'})}
  static override flags = {...LignumCommand.brokersFlag, ...LignumCommand.configFlag}

  async run(): Promise<TopicSummary> {
    const {args, flags} = await this.parse(TopicsDescribe)
    const client = await this.connect(flags)
    const topic = summarizeTopic(await client.describeTopic(args.name))
    if (!this.jsonEnabled()) {
      const settings = Object.entries(topic.config).map(([key, value]) => `${key}=${value}`).join(' ')
      this.log(`Topic ${topic.name}${settings ? ` (${settings})` : ''}`)
      this.log(renderTopicPartitions(topic))
    }
    return topic
  }
}
