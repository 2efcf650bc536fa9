/** The client library's public surface. */
export {LignumClient, type ConnectOptions} from './lignum-client.js'
export {Producer, type ProducerOptions, type ProducerRecord, type RecordMetadata, type AcksSetting} from './producer.js'
export type {ConsumeOptions, ConsumedRecord, RecordChunk, StartPosition} from './consumer.js'
