/**
 * Turns any error thrown while serving into a gRPC status through the one error table:
 * LignumErrors keep their code and hint (sent in trailing metadata, ERROR_CODE_METADATA_KEY and
 * ERROR_HINT_METADATA_KEY, so the client can rebuild the same LignumError) and their message as
 * the status details; anything else is an internal error, logged.
 */
import {status as GrpcStatus, type ServiceError, Metadata} from '@grpc/grpc-js'
import {ERROR_CODE_METADATA_KEY, ERROR_HINT_METADATA_KEY, LignumError, type ErrorCode} from '../errors.js'
import type {Logger} from '../logger.js'

export function toServiceError(error: unknown, logger: Logger): Partial<ServiceError> {
  if (error instanceof LignumError) return statusOfLignumError(error)
  logger.error('request failed', {error})
  const message = error instanceof Error ? error.message : String(error)
  return {code: GrpcStatus.INTERNAL, details: message, metadata: metadataWithCode('INTERNAL')}
}

/** A LignumError as a gRPC status: its table's status, its message, its code and hint in trailing metadata. */
export function statusOfLignumError(error: LignumError): Partial<ServiceError> {
  return {code: error.grpcStatus as GrpcStatus, details: error.message, metadata: metadataWithCode(error.code, error.hint)}
}

function metadataWithCode(code: ErrorCode, hint?: string): Metadata {
  const metadata = new Metadata()
  metadata.set(ERROR_CODE_METADATA_KEY, code)
  if (hint !== undefined) metadata.set(ERROR_HINT_METADATA_KEY, Buffer.from(hint, 'utf8'))
  return metadata
}

export function asLignumError(error: unknown): LignumError {
  if (error instanceof LignumError) return error
  return new LignumError('INTERNAL', error instanceof Error ? error.message : String(error), {cause: error})
}

/** A LignumError as the wire's per-result Error (a produce result, a replication answer), its hint beside the message. */
export function wireErrorOf(failure: LignumError): {code: string; message: string; retriable: boolean; hint: string} {
  return {code: failure.code, message: failure.message, retriable: failure.retriable, hint: failure.hint ?? ''}
}
