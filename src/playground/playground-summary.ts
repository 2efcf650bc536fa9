/**
 * What `lignum cluster up` prints once the playground is healthy: the --brokers string and the
 * Kafka clients' bootstrap list, how to reach each node and Consul, and commands to try, for a person; the same facts as one
 * JSON object (`--json`) for a script.
 */
import type {PlaygroundInfo} from './playground.js'

export function renderPlaygroundSummary(info: PlaygroundInfo, bin: string): string {
  const brokers = `--brokers ${info.brokers}`
  const width = Math.max(...info.nodes.map((node) => node.name.length), 'consul'.length)
  const nodeLines = info.nodes.map((node) => `  ${node.name.padEnd(width)}  gRPC ${node.grpc}  Kafka ${node.kafka}  HTTP ${node.http} (/metrics, /readyz)  data ${node.dataDir}  pid ${node.pid ?? '?'}`)
  const kept = info.dataDirKept ? `kept in ${info.dataDir}; \`${bin} cluster up --data-dir ${info.dataDir}\` resumes it` : `in ${info.dataDir}, removed when the playground stops`
  return [
    `Cluster "${info.cluster}" is up: ${info.nodes.length} node${info.nodes.length === 1 ? '' : 's'}, controller ${info.controller}${info.resumed ? ' (resumed)' : ''}.`,
    '',
    `  ${brokers}`,
    `  Kafka clients: bootstrap.servers=${info.kafkaBootstrap}`,
    '',
    ...nodeLines,
    `  ${'consul'.padEnd(width)}  ${info.consul.url} (UI at /ui)  data ${info.consul.dataDir}  pid ${info.consul.pid ?? '?'}`,
    '',
    `Data: ${kept}.`,
    '',
    'Try:',
    `  ${bin} topics create demo --partitions 3 --replication-factor ${Math.min(3, info.nodes.length)} ${brokers}`,
    `  seq 1 10 | ${bin} produce -t demo --acks all ${brokers}`,
    `  ${bin} consume -t demo --from beginning --exit ${brokers}`,
    `  ${bin} cluster status ${brokers}`,
    `  kcat -b ${info.kafkaBootstrap} -t demo -C -e`,
    '',
    'Ctrl-C stops the nodes, then Consul.',
  ].join('\n')
}
