/**
 * What a node follows of the topic catalog: only what concerns it.
 *
 * - One blocking watch on the names of the topics (`topics/?keys`): names only, so a topic
 *   created or deleted costs every node a list of names, never the records.
 * - One blocking watch per topic this node holds a replica of, on that topic's partition
 *   states (`partitions/<t>/`): an ISR change of one partition reaches the nodes that hold
 *   that topic, with that topic's states, and no other node. A new topic's states are read
 *   once to learn whether the node holds any of it; if not, its watch ends there.
 *
 * Events (through `onEvent`): a topic created or deleted (the topics that exist when the
 * watch starts count as created), and a partition state changed for a
 * partition this node is (or was, until this change) a replica of. Each partition key has its
 * own EpochGuard: a state written under an older controller epoch than one already seen for
 * that partition comes from a deposed controller (or a Consul restored from an old snapshot)
 * and is refused with a warning. The guard is per partition, not per node: a partition that no
 * controller rewrote since epoch 3 legitimately still says 3 while epoch 5 rules.
 *
 * Not followed yet: a reassignment that adds this node to a topic it held nothing of (that
 * topic's watch has ended); reassignment comes with its own notification.
 */
import {LignumError} from '../errors.js'
import type {Logger} from '../logger.js'
import {BlockingWatch} from './blocking-watch.js'
import {parsePartitionState, type StoredPartitionState} from './catalog-records.js'
import type {ClusterKeys} from './cluster-keys.js'
import type {ConsulApi, KvEntry} from './consul-api.js'
import {EpochGuard} from './controller-state.js'

export type CatalogEvent =
  | {kind: 'topic-created'; topic: string}
  | {kind: 'topic-deleted'; topic: string}
  | {kind: 'partition-changed'; stored: StoredPartitionState}

export interface PartitionWatchOptions {
  api: ConsulApi
  keys: ClusterKeys
  nodeId: string
  logger: Logger
  onEvent(event: CatalogEvent): void
}

/** What the watches received from Consul, to show that a node is not sent the whole tree. */
export interface WatchTraffic {
  topicListAnswers: number
  topicNamesReceived: number
  partitionAnswers: number
  partitionEntriesReceived: number
  partitionValueBytesReceived: number
}

interface TopicFollow {
  watch: BlockingWatch<KvEntry[]>
  /** The ModifyIndex last looked at per partition, accepted or not (each value is judged once per history). */
  lookedAt: Map<number, number>
  /** The replicas of the last accepted state per partition. */
  replicas: Map<number, string[]>
  guards: Map<number, EpochGuard>
  answered: boolean
}

export class PartitionWatch {
  readonly traffic: WatchTraffic = {
    topicListAnswers: 0,
    topicNamesReceived: 0,
    partitionAnswers: 0,
    partitionEntriesReceived: 0,
    partitionValueBytesReceived: 0,
  }
  private readonly topicList: BlockingWatch<string[]>
  private readonly topics = new Map<string, TopicFollow | 'not-held'>()
  private running = false

  constructor(private readonly options: PartitionWatchOptions) {
    this.topicList = new BlockingWatch({
      fetch: async (index, waitMs, signal) => {
        const answer = await options.api.kvKeys(options.keys.topicsPrefix, index, waitMs, signal)
        this.traffic.topicListAnswers += 1
        this.traffic.topicNamesReceived += answer.data.length
        return answer
      },
      onData: (keys) => this.onTopicNames(keys),
      onError: (error) => this.onError('topic names', error),
    })
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.topicList.start()
  }

  async stop(): Promise<void> {
    this.running = false
    const follows = [...this.topics.values()].filter((follow): follow is TopicFollow => follow !== 'not-held')
    this.topics.clear()
    await Promise.all([this.topicList.stop(), ...follows.map((follow) => follow.watch.stop())])
  }

  /** The topics whose partition states this node follows now. */
  followedTopics(): string[] {
    return [...this.topics.entries()].filter(([, follow]) => follow !== 'not-held').map(([topic]) => topic).sort()
  }

  private onTopicNames(keys: string[]): void {
    if (!this.running) return
    const names = new Set<string>()
    for (const key of keys) {
      const topic = this.options.keys.topicOfKey(key)
      if (topic !== undefined) names.add(topic)
    }
    for (const topic of [...this.topics.keys()]) {
      if (!names.has(topic)) this.forget(topic)
    }
    for (const topic of names) {
      if (!this.topics.has(topic)) this.follow(topic)
    }
  }

  private follow(topic: string): void {
    const follow: TopicFollow = {
      watch: new BlockingWatch({
        fetch: async (index, waitMs, signal) => {
          const answer = await this.options.api.kvTree(this.options.keys.partitionsPrefix(topic), index, waitMs, signal)
          this.countPartitionAnswer(answer.data)
          return answer
        },
        onData: (entries, _index, newHistory) => {
          // A ModifyIndex seen in the old history may recur with another value: judge each again.
          if (newHistory) follow.lookedAt.clear()
          this.onPartitionStates(topic, follow, entries)
        },
        onError: (error) => this.onError(`partitions of ${topic}`, error),
      }),
      lookedAt: new Map(),
      replicas: new Map(),
      guards: new Map(),
      answered: false,
    }
    this.topics.set(topic, follow)
    this.options.onEvent({kind: 'topic-created', topic})
    follow.watch.start()
  }

  private forget(topic: string): void {
    const follow = this.topics.get(topic)
    this.topics.delete(topic)
    if (follow && follow !== 'not-held') void follow.watch.stop()
    this.options.onEvent({kind: 'topic-deleted', topic})
  }

  private onPartitionStates(topic: string, follow: TopicFollow, entries: KvEntry[]): void {
    if (this.topics.get(topic) !== follow) return
    const {keys, nodeId, logger} = this.options
    const changed: StoredPartitionState[] = []
    for (const entry of entries) {
      const partition = keys.partitionOfKey(topic, entry.key)
      if (partition === undefined || follow.lookedAt.get(partition) === entry.modifyIndex) continue
      follow.lookedAt.set(partition, entry.modifyIndex)
      const state = parsePartitionState(entry.key, entry.value, logger)
      if (!state || !this.passesGuard(follow, topic, partition, state.epoch)) continue
      const previous = follow.replicas.get(partition)
      follow.replicas.set(partition, state.replicas)
      if (state.replicas.includes(nodeId) || previous?.includes(nodeId)) {
        changed.push({topic, partition, state, modifyIndex: entry.modifyIndex})
      }
    }
    const firstAnswer = !follow.answered
    follow.answered = true
    if (firstAnswer && ![...follow.replicas.values()].some((replicas) => replicas.includes(nodeId))) {
      this.topics.set(topic, 'not-held')
      void follow.watch.stop()
      return
    }
    for (const stored of changed.sort((left, right) => left.partition - right.partition)) {
      this.options.onEvent({kind: 'partition-changed', stored})
    }
  }

  private passesGuard(follow: TopicFollow, topic: string, partition: number, epoch: number): boolean {
    let guard = follow.guards.get(partition)
    if (!guard) {
      guard = new EpochGuard()
      follow.guards.set(partition, guard)
    }
    try {
      guard.check(epoch, `partition state ${topic}-${partition}`)
      return true
    } catch (error) {
      if (!(error instanceof LignumError)) throw error
      this.options.logger.warn('ignoring a partition state from an older controller epoch', {topic, partition, reason: error.message})
      return false
    }
  }

  private countPartitionAnswer(entries: KvEntry[]): void {
    this.traffic.partitionAnswers += 1
    this.traffic.partitionEntriesReceived += entries.length
    for (const entry of entries) this.traffic.partitionValueBytesReceived += Buffer.byteLength(entry.value ?? '', 'utf8')
  }

  private onError(what: string, error: unknown): void {
    if (this.running) this.options.logger.debug('catalog watch failed; retrying', {watch: what, error: (error as Error).message})
  }
}
