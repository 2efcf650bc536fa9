/**
 * A LignumError as Kafka's protocol names it: the code the one error table (src/errors.ts)
 * gives it. Anything that is not a LignumError is Kafka's UNKNOWN_SERVER_ERROR.
 */
import {errorTable, LignumError, type ErrorCode} from '../errors.js'
import {KafkaErrorCode, type KafkaErrorName} from './kafka-error-codes.js'

// The table may only name codes this listener knows: a typo there fails the typecheck.
type TableKafkaNames = (typeof errorTable)[ErrorCode]['kafka']
const everyTableNameIsKafkas: TableKafkaNames extends KafkaErrorName ? true : never = true
void everyTableNameIsKafkas

export function kafkaErrorCodeOf(error: unknown): number {
  if (!(error instanceof LignumError)) return KafkaErrorCode.UNKNOWN_SERVER_ERROR
  return KafkaErrorCode[errorTable[error.code].kafka as KafkaErrorName]
}
