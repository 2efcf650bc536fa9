/** The client layer, for the CLI, the nodes and tests; the package's public part is src/index.ts. */
export {LignumClient, type LignumClientOptions, type GroupOffset} from './lignum-client.js'
export {WireClient, type ConnectOptions} from './wire-client.js'
export type {TopicInfo, PartitionInfo, TopicSettings, TopicReplication} from './topic-info.js'
export {Producer, REQUEST_TIMEOUT_MS_DEFAULT, type ProducerOptions, type ProducerRecord, type RecordMetadata, type AcksSetting} from './producer.js'
export type {ReplicaChoice} from './cluster-routes.js'
export type {ConsumeOptions, ConsumedRecord, RecordChunk, StartPosition} from './consumer.js'
export type {ClientTlsOptions} from './tls-credentials.js'
export type {GroupDescription, GroupMemberDescription, GroupOffsetChange, GroupSummary} from './groups.js'
