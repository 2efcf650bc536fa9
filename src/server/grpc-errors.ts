/**
 * Turns any error thrown while serving into a gRPC status through the one error table:
 * LignumErrors keep their code (sent as "CODE: message" in details so the client can rebuild
 * the same LignumError); anything else is an internal error, logged, with a generic message.
 */
import {status as GrpcStatus, type ServiceError, Metadata} from '@grpc/grpc-js'
import {LignumError} from '../errors.js'
import type {Logger} from '../logger.js'

export function toServiceError(error: unknown, logger: Logger): Partial<ServiceError> {
  if (error instanceof LignumError) {
    return {code: error.grpcStatus as GrpcStatus, details: `${error.code}: ${error.message}`, metadata: new Metadata()}
  }
  logger.error('request failed', {error})
  const message = error instanceof Error ? error.message : String(error)
  return {code: GrpcStatus.INTERNAL, details: `INTERNAL: ${message}`, metadata: new Metadata()}
}

export function asLignumError(error: unknown): LignumError {
  if (error instanceof LignumError) return error
  return new LignumError('INTERNAL', error instanceof Error ? error.message : String(error), {cause: error})
}
