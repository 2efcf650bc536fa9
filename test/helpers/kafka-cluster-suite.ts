/**
 * Three real `lignum serve` nodes on a real Consul, each with a Kafka listener on a port of its
 * own, for a describe block of Kafka-client tests: started before its tests, stopped after
 * them, the nodes' last log lines printed when a test fails.
 */
import {ConsulAgent, requireConsulBinary} from './consul.js'
import type {ServeProcess} from '../cluster/serve-process.js'
import {startThreeNodes} from '../cluster/three-nodes.js'
import {printLogs} from '../cluster/cluster-reads.js'

// Consul and three nodes start in seconds, but a loaded 2-core machine needs room.
const START_TIMEOUT_MS = 180_000
const LOG_LINES_ON_FAILURE = 60

export interface KafkaClusterSuite {
  readonly nodes: ServeProcess[]
  readonly consulUrl: string
  readonly cluster: string
}

export function kafkaClusterForSuite(cluster: string, nodePrefix: string): KafkaClusterSuite {
  let consul: ConsulAgent | undefined
  let nodes: ServeProcess[] = []
  before(async function () {
    const consulBinary = await requireConsulBinary(this)
    this.timeout(START_TIMEOUT_MS)
    consul = await ConsulAgent.start(consulBinary, 'persistent')
    nodes = await startThreeNodes(consul.url, cluster, nodePrefix, {}, {LIGNUM_KAFKA_PORT: '0'})
  })
  after(async function () {
    await Promise.all(nodes.map((node) => node.destroy()))
    await consul?.destroy()
  })
  afterEach(function () {
    if (this.currentTest?.state === 'failed') printLogs(nodes, LOG_LINES_ON_FAILURE)
  })
  return {
    get nodes() {
      return nodes
    },
    get consulUrl() {
      if (!consul) throw new Error("the suite's Consul has not started")
      return consul.url
    },
    cluster,
  }
}
