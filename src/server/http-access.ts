/**
 * Who may use the HTTP API: the bearer tokens of `http.tokensFile` (when set) and whether
 * /metrics needs a principal (`http.metricsAccess`). /healthz and /readyz need none, ever:
 * probes and load balancers carry no credentials.
 *
 * Invariant: `authenticated` is only accepted when a request can have a principal at all (a
 * tokens file, or TLS asking for client certificates); otherwise /metrics could never be read.
 */
import type {LignumConfig, MetricsAccessSetting} from '../config/schema.js'
import {LignumError} from '../errors.js'
import type {Logger} from '../logger.js'
import type {PrincipalMapping} from '../tls/principal-mapping.js'
import {TokenFileWatch, type BearerTokens} from '../tokens/token-file-watch.js'

export interface HttpAccess {
  tokens?: BearerTokens
  /** How a client certificate names its principal (tls.principalMappingRules); the CN when undefined. */
  principalMapping?: PrincipalMapping
  metricsAccess: MetricsAccessSetting
}

export const OPEN_HTTP_ACCESS: HttpAccess = {metricsAccess: 'open'}

/** The node's HTTP access, and the tokens file watch to stop with the node (when there is one). */
export async function httpAccessOf(config: LignumConfig, logger: Logger): Promise<{access: HttpAccess; watch?: TokenFileWatch}> {
  const {httpTokensFile: tokensFile, httpMetricsAccess: metricsAccess} = config
  const tlsAsksForCertificates = config.tlsCertFile !== undefined && config.tlsClientAuth !== 'none'
  if (metricsAccess === 'authenticated' && tokensFile === undefined && !tlsAsksForCertificates) {
    throw new LignumError('CONFIG', 'http.metricsAccess authenticated needs a way to authenticate', {hint: 'set http.tokensFile (--http-tokens-file), or tls.clientAuth requested or required with TLS on'})
  }
  if (tokensFile === undefined) return {access: {metricsAccess}}
  const watch = new TokenFileWatch(tokensFile, logger.child({component: 'http-tokens'}))
  await watch.start()
  return {access: {tokens: watch, metricsAccess}, watch}
}
