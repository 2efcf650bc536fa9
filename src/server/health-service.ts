/**
 * The standard gRPC health service (grpc.health.v1): SERVING while the node is ready, for the
 * whole server ("") and for each service it registers by name. Any other name is unknown, and
 * the health protocol says so: Check answers NOT_FOUND, Watch answers SERVICE_UNKNOWN (and keeps
 * watching, as the protocol asks, in case the service is registered later).
 * Watch answers with the status now and whenever it changes, until the caller cancels.
 */
import type {HealthServer} from '../generated/grpc/health/v1/health.js'
import {HealthCheckResponse_ServingStatus as ServingStatus} from '../generated/grpc/health/v1/health.js'
import {LignumError} from '../errors.js'
import {statusOfLignumError} from './grpc-errors.js'

// Watchers are told of a change within this long.
const WATCH_POLL_MS = 1000
/** The name that asks for the health of the whole server. */
const WHOLE_SERVER = ''

export function createHealthService(ready: () => boolean, serviceNames: readonly string[]): HealthServer {
  const known = new Set([WHOLE_SERVER, ...serviceNames])
  const status = (service: string) => {
    if (!known.has(service)) return ServingStatus.SERVICE_UNKNOWN
    return ready() ? ServingStatus.SERVING : ServingStatus.NOT_SERVING
  }
  return {
    check(call, callback) {
      const {service} = call.request
      if (!known.has(service)) {
        const unknown = new LignumError('NOT_FOUND', `this node serves no gRPC service "${service}"; ask for "" (the node) or one of: ${serviceNames.join(', ')}`)
        callback(statusOfLignumError(unknown), null)
        return
      }
      callback(null, {status: status(service)})
    },
    watch(call) {
      const {service} = call.request
      let last = status(service)
      call.write({status: last})
      const timer = setInterval(() => {
        const now = status(service)
        if (now !== last) call.write({status: (last = now)})
      }, WATCH_POLL_MS)
      call.on('cancelled', () => clearInterval(timer))
      call.on('close', () => clearInterval(timer))
    },
  }
}
