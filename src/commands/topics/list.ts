import {ClientCommand} from '../../cli/client-command.js'
import {LignumCommand} from '../../cli/lignum-command.js'
import {renderTable, summarizeTopic, type TopicSummary} from '../../ui/topic-table.js'

export default class TopicsList extends ClientCommand {
  static override summary = 'List topics.'
  static override examples = ['<%= config.bin %> topics list', '<%= config.bin %> topics list --json']
  static override enableJsonFlag = true
  static override flags = {...LignumCommand.brokersFlag, ...LignumCommand.configFlag}

  async run(): Promise<{topics: TopicSummary[]}> {
    const {flags} = await this.parse(TopicsList)
    const client = await this.connect(flags)
    const topics = (await client.listTopics()).map((topic) => summarizeTopic(topic))
    if (!this.jsonEnabled()) {
      const rows = topics.map((topic) => [topic.name, topic.partitions.length, topic.partitions.reduce((sum, partition) => sum + partition.logEndOffset - partition.logStartOffset, 0)])
      this.log(topics.length === 0 ? 'No topics yet.' : renderTable(['TOPIC', 'PARTITIONS', 'RECORDS'], rows))
    }
    return {topics}
  }
}
