/**
 * The Kafka side of the failover benchmark: three Kafka 4.1.1 KRaft nodes, each broker and
 * controller in one JVM (kafka-cluster.ts), on loopback ports and their own directories, with
 * the profile's extra broker properties, and the probe (kafka-failover-probe.ts) holding a
 * steady acks=all idempotent producer, one record at a time, as the Lignum side does.
 *
 * One run mirrors the Lignum side: a new topic (3 partitions, RF 3, min.insync.replicas 2), the
 * load moved to a partition whose leader is (or is not) the active controller, kill -9 of that
 * leader's JVM, the time to the next acknowledgement; then the broker restarts on its log
 * directory, rejoins every ISR, and the topic is deleted.
 */
import {mkdir} from 'node:fs/promises'
import path from 'node:path'
import {startKafkaCluster, type KafkaCluster} from './kafka-cluster.js'
import {compileProbe, KafkaFailoverProbe, type KafkaTopicView} from './kafka-failover-probe.js'
import {acksBeforeKill, choosePartition, failoverTimeoutMs, loadAverage1m, minInsyncReplicas, partitionsPerTopic, pollUntil, replicationFactor, settleTimeoutMs, type FailoverSample, type Victim} from './failover-common.js'

/** Broker settings Kafka is run with beside its defaults, and the producer's; see the profile table in bench/failover.ts. */
export interface KafkaProfile {
  brokerProperties: string[]
}

/**
 * The producer: acks=all and idempotence (Kafka 4's defaults, said explicitly), no linger so
 * each record leaves at once in this one-at-a-time loop; every retry and timeout setting is the
 * client's default.
 */
export const kafkaProducerSettings = ['acks=all', 'enable.idempotence=true', 'linger.ms=0']

export class KafkaFailoverCluster {
  private runs = 0

  private constructor(
    private readonly cluster: KafkaCluster,
    private readonly probe: KafkaFailoverProbe,
  ) {}

  static async start(installDir: string, dataDir: string, logDir: string, profile: KafkaProfile): Promise<KafkaFailoverCluster> {
    await mkdir(logDir, {recursive: true})
    const classDir = await compileProbe(installDir)
    const cluster = await startKafkaCluster(installDir, dataDir, logDir, {extraProperties: profile.brokerProperties})
    try {
      const probe = await KafkaFailoverProbe.start(installDir, classDir, cluster.tools.log4j, cluster.tools.bootstrap, kafkaProducerSettings)
      return new KafkaFailoverCluster(cluster, probe)
    } catch (error) {
      await cluster.stop()
      throw error
    }
  }

  async measureOnce(victim: Victim, profileName: string): Promise<FailoverSample> {
    const run = ++this.runs
    const topic = `failover-${run}`
    const loadAverage = loadAverage1m()
    // Brokers register with the quorum a few seconds after they listen: RF 3 is refused until all have.
    await pollUntil(`Kafka to create ${topic} with RF ${replicationFactor}`, async () => {
      await this.probe.createTopic(topic, partitionsPerTopic, replicationFactor, minInsyncReplicas)
      return true
    }, settleTimeoutMs)
    const view = await this.waitFullIsr(topic)
    const chosen = choosePartition(view.partitions, view.controller, victim)
    const base = {system: 'kafka', profile: profileName, run, victim, loadAverage1m: loadAverage}
    if (!chosen) {
      await this.probe.deleteTopic(topic)
      return {...base, killedNode: '', newLeader: null, failoverMs: null, leaderKnownMs: null, sendErrors: 0, error: `no partition of ${topic} is led by ${victim === 'leader' ? 'a broker other than' : ''} the controller ${view.controller}`}
    }
    await this.probe.produce(topic, chosen.partition, acksBeforeKill)
    const errorsBefore = await this.probe.sendErrors()

    const killedAtNs = process.hrtime.bigint()
    await this.cluster.killHard(chosen.leader)
    const observed = await this.probe.observeFailover(killedAtNs, chosen.leader, failoverTimeoutMs)
    const sinceKillMs = (ns: bigint | null) => (ns === null ? null : Math.round(Number(ns - killedAtNs) / 1e6))
    const sample: FailoverSample = {
      ...base,
      killedNode: String(chosen.leader),
      newLeader: observed.newLeader === null ? null : String(observed.newLeader),
      failoverMs: sinceKillMs(observed.firstAckNs),
      leaderKnownMs: sinceKillMs(observed.leaderSeenNs),
      sendErrors: observed.sendErrors - errorsBefore,
      ...(observed.firstAckNs === null ? {error: `no acknowledgement within ${failoverTimeoutMs} ms of the kill`} : {}),
    }
    await this.cluster.restart(chosen.leader)
    await this.waitFullIsr(topic)
    await this.probe.idle()
    await this.probe.deleteTopic(topic)
    return sample
  }

  private waitFullIsr(topic: string): Promise<KafkaTopicView> {
    return pollUntil(`every partition of ${topic} led and fully in sync`, async () => {
      const view = await this.probe.describe(topic)
      const full = view.partitions.length === partitionsPerTopic && view.partitions.every((partition) => partition.leader >= 0 && partition.isr.length === replicationFactor)
      return full ? view : undefined
    }, settleTimeoutMs)
  }

  /** Where the brokers' logs are, for the notes of a failed run. */
  static logDirOf(scratchDir: string, profileName: string): string {
    return path.join(scratchDir, `kafka-${profileName}-logs`)
  }

  async stop(): Promise<void> {
    await this.probe.stop().catch(() => undefined)
    await this.cluster.stop()
  }
}
