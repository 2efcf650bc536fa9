/**
 * grpc-js prints its own diagnostics on stderr ("E No address added out of total 1 resolved")
 * beside the one-line error Lignum already gives for the same failure. A node routes them into
 * its logger at debug level instead: there when asked for (LOG_LEVEL=debug), never a stray line.
 */
import {format} from 'node:util'
import {setLogger} from '@grpc/grpc-js'
import type {Logger} from '../logger.js'

export function routeGrpcLogs(logger: Logger): void {
  const toDebug = (message?: unknown, ...rest: unknown[]) => logger.debug('grpc-js', {detail: format(message, ...rest)})
  setLogger({error: toDebug, info: toDebug, debug: toDebug})
}
