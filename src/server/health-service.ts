/**
 * The standard gRPC health service (grpc.health.v1): SERVING while the node is ready.
 * Watch answers with the status now and whenever it changes, until the caller cancels.
 */
import type {HealthServer} from '../generated/grpc/health/v1/health.js'
import {HealthCheckResponse_ServingStatus as ServingStatus} from '../generated/grpc/health/v1/health.js'

// Watchers are told of a change within this long.
const WATCH_POLL_MS = 1000

export function createHealthService(ready: () => boolean): HealthServer {
  const status = () => (ready() ? ServingStatus.SERVING : ServingStatus.NOT_SERVING)
  return {
    check(_call, callback) {
      callback(null, {status: status()})
    },
    watch(call) {
      let last = status()
      call.write({status: last})
      const timer = setInterval(() => {
        const now = status()
        if (now !== last) call.write({status: (last = now)})
      }, WATCH_POLL_MS)
      call.on('cancelled', () => clearInterval(timer))
      call.on('close', () => clearInterval(timer))
    },
  }
}
