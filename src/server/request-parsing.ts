/**
 * A request whose protobuf does not parse is the client's mistake: it is answered
 * INVALID_ARGUMENT, never INTERNAL (grpc-js answers any deserializer that throws with INTERNAL
 * "Error deserializing request", which says the node is broken).
 *
 * grpc-js gives no hook between its deserializer and its status, so the two halves meet here:
 * every service's deserializers are wrapped to return an UnparseableRequest instead of
 * throwing, and a server interceptor answers that request with INVALID_ARGUMENT before any
 * handler sees it, for every method and kind of call alike (unary, streams, the health service).
 */
import {ServerInterceptingCall, type ServerInterceptor, type StatusObject} from '@grpc/grpc-js'
import {LignumError} from '../errors.js'
import {statusOfLignumError} from './grpc-errors.js'

/** What a wrapped deserializer returns for bytes that are not the method's request message. */
export class UnparseableRequest {
  constructor(readonly error: LignumError) {}
}

interface MethodWithRequest {
  path: string
  requestDeserialize: (bytes: Buffer) => unknown
}

/** `definition` with every method's request deserializer returning an UnparseableRequest instead of throwing. */
export function withUnparseableRequestsMarked<Definition extends Record<string, MethodWithRequest>>(definition: Definition): Definition {
  const marked: Record<string, MethodWithRequest> = {}
  for (const [name, method] of Object.entries(definition)) {
    marked[name] = {...method, requestDeserialize: markingUnparseable(method.requestDeserialize, method.path)}
  }
  return marked as Definition
}

function markingUnparseable(deserialize: (bytes: Buffer) => unknown, path: string): (bytes: Buffer) => unknown {
  return (bytes) => {
    try {
      return deserialize(bytes)
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error)
      return new UnparseableRequest(new LignumError('INVALID_ARGUMENT', `the ${path} request (${bytes.length} bytes) is not valid protobuf for its message (${reason}); send a message built from proto/`, {cause: error}))
    }
  }
}

/** Answers an UnparseableRequest with its INVALID_ARGUMENT and hands every other message on. */
export const refuseUnparseableRequests: ServerInterceptor = (_method, call) =>
  new ServerInterceptingCall(call, {
    start(next) {
      next({
        onReceiveMessage(message, pass) {
          if (message instanceof UnparseableRequest) call.sendStatus(statusOfLignumError(message.error) as StatusObject)
          else pass(message)
        },
      })
    },
  })
