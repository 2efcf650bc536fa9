/**
 * The public API of Lignum as a library, what `import ... from 'lignum'` gives: the client,
 * the types of its options and records, and the errors. Invariant: only plain types cross
 * this boundary (numbers, strings, Buffers, objects); the gRPC layer beneath stays internal.
 */
export {LignumError, errorTable, type ErrorCode} from './errors.js'
export {LignumClient, type LignumClientOptions, type GroupOffset, type Producer} from './client/lignum-client.js'
export type {TopicInfo, PartitionInfo, TopicSettings, TopicReplication} from './client/topic-info.js'
export type {ProducerOptions, ProducerRecord, ProducerStats, RecordMetadata, AcksSetting} from './client/producer.js'
export type {ConsumeOptions, ConsumedRecord, StartPosition} from './client/consumer.js'
export type {ReplicaChoice} from './client/cluster-routes.js'
export type {RecordHeader} from './format/record-batch.js'
export type {CompressionCodec} from './format/compression.js'
export type {ClientTlsOptions} from './client/tls-credentials.js'
