/**
 * Turns any error thrown while serving into a gRPC status through the one error table:
 * LignumErrors keep their code (sent in trailing metadata, ERROR_CODE_METADATA_KEY, so the
 * client can rebuild the same LignumError) and their message as the status details; anything
 * else is an internal error, logged.
 */
import {status as GrpcStatus, type ServiceError, Metadata} from '@grpc/grpc-js'
import {ERROR_CODE_METADATA_KEY, LignumError, type ErrorCode} from '../errors.js'
import type {Logger} from '../logger.js'

export function toServiceError(error: unknown, logger: Logger): Partial<ServiceError> {
  if (error instanceof LignumError) return statusOfLignumError(error)
  logger.error('request failed', {error})
  const message = error instanceof Error ? error.message : String(error)
  return {code: GrpcStatus.INTERNAL, details: message, metadata: metadataWithCode('INTERNAL')}
}

/** A LignumError as a gRPC status: its table's status, its message, its code in trailing metadata. */
export function statusOfLignumError(error: LignumError): Partial<ServiceError> {
  return {code: error.grpcStatus as GrpcStatus, details: error.message, metadata: metadataWithCode(error.code)}
}

function metadataWithCode(code: ErrorCode): Metadata {
  const metadata = new Metadata()
  metadata.set(ERROR_CODE_METADATA_KEY, code)
  return metadata
}

export function asLignumError(error: unknown): LignumError {
  if (error instanceof LignumError) return error
  return new LignumError('INTERNAL', error instanceof Error ? error.message : String(error), {cause: error})
}
