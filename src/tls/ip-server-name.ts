/**
 * grpc-js sends a TLS client's target host as the server name (SNI) even when it is an IP
 * address, which RFC 6066 does not allow, and Node warns (DEP0123) on the first such
 * connection. The client library's credentials send none (client/tls-channel-credentials.ts);
 * a node's own channels to other nodes follow its rotating certificates through grpc-js's
 * certificate-provider credentials, which still do, so `serve`, which owns its stderr, drops
 * that one warning.
 */
const IP_SERVER_NAME_WARNING = 'DEP0123'

let installed = false

export function quietIpServerNameWarning(): void {
  if (installed) return
  installed = true
  const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const code = typeof rest[0] === 'object' && rest[0] !== null ? (rest[0] as {code?: string}).code : rest[1]
    if (code === IP_SERVER_NAME_WARNING) return
    emitWarning(warning, ...rest)
  }) as typeof process.emitWarning
}
