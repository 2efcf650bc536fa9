/** The client library's public surface. */
export {LignumClient, type ConnectOptions} from './lignum-client.js'
export {Producer, REQUEST_TIMEOUT_MS_DEFAULT, type ProducerOptions, type ProducerRecord, type RecordMetadata, type AcksSetting} from './producer.js'
export type {ReplicaChoice} from './cluster-routes.js'
export type {ConsumeOptions, ConsumedRecord, RecordChunk, StartPosition} from './consumer.js'
export type {GroupConsumeOptions} from './group-consumer.js'
export type {ClientTlsOptions} from './tls-credentials.js'
