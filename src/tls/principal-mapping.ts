/**
 * The principal of a mutual TLS peer, from its certificate, by `tls.principalMappingRules`:
 * Kafka's `ssl.principal.mapping.rules`, plus rules on subject alternative names.
 *
 *   DEFAULT                              the subject's CN (Lignum's principal before rules existed;
 *                                        Kafka's DEFAULT is the whole DN)
 *   RULE:<regex>/<replacement>/[L|U]     the regex must match the whole subject DN in RFC 2253
 *                                        form, most specific first ("CN=alice,OU=eng,O=Acme,C=US":
 *                                        the certificate's subject fields in reverse of their
 *                                        order in the certificate, values escaped as RFC 2253,
 *                                        as Java's X500Principal.getName() gives Kafka)
 *   SAN:<DNS|URI|IP|EMAIL>:<regex>/<replacement>/[L|U]
 *                                        the regex must match the whole of one subject
 *                                        alternative name of that type (the first that does)
 *
 * The replacement takes $1.. for the regex's groups and \ to quote the next character, as
 * Java's; /L and /U lower- or upper-case the result. Rules are tried in order; the first that
 * matches gives the principal; DEFAULT always matches (a certificate without a CN is then
 * anonymous, as before rules existed). None matching is a refusal (undefined here), as Kafka fails the
 * authentication: falling back to ANONYMOUS would hand a certificate nobody mapped whatever the
 * ACLs allow anonymous clients.
 *
 * Invariant: a PrincipalMapping holds at least one rule and every regex of it compiles.
 */
import {X509Certificate} from 'node:crypto'
import type {PeerCertificate} from 'node:tls'
import {LignumError} from '../errors.js'
import {commonNameOf} from './pem-files.js'

export type SanType = 'DNS' | 'URI' | 'IP' | 'EMAIL'

export type MappingRule =
  | {kind: 'default'}
  | {kind: 'subject' | 'san'; sanType?: SanType; pattern: RegExp; replacement: string; casing: '' | 'L' | 'U'; text: string}

export interface PrincipalMapping {
  rules: MappingRule[]
  /** What each certificate (by its SHA-256 fingerprint) maps to: the answer depends on nothing else. */
  mapped?: Map<string, MappedPrincipal>
}

// Parsing a certificate costs about 0.3 ms, on every call otherwise; clients are few next to
// this, and a flood of distinct certificates (each signed by the CA) only evicts the oldest.
export const MAPPED_CERTIFICATES_MAX = 1024

/** What a rule can be applied to: the certificate's subject and subject alternative names. */
export interface CertificateNames {
  /** The subject fields in the certificate's order, as node:crypto's X509Certificate.subject lines ("C=US", …, "CN=alice"). */
  subjectFields: string[]
  sans: {type: SanType; value: string}[]
  /** The subject's CN, unescaped, for DEFAULT. */
  commonName: string | undefined
}

export const MAPPING_RULES_SYNTAX = 'DEFAULT, RULE:<regex>/<replacement>/[L|U] or SAN:<DNS|URI|IP|EMAIL>:<regex>/<replacement>/[L|U], comma-separated'

/** The refusal of a certificate no rule maps, for gRPC and HTTP alike. */
export const UNMAPPED_CERTIFICATE = `the client certificate matches none of this node's tls.principalMappingRules; present a certificate a rule maps, or an operator adds a rule (${MAPPING_RULES_SYNTAX}; DEFAULT last names any other by its CN)`

/** Today's principal, and the mapping when the setting is unset. */
export const DEFAULT_PRINCIPAL_MAPPING: PrincipalMapping = {rules: [{kind: 'default'}]}

// Kafka's SslPrincipalMapper RULE_PATTERN, with the SAN form: a regex and a replacement are runs
// of escaped characters or anything but \ and /, so a regex may hold commas and \/.
const RULE_BODY = String.raw`(DEFAULT)|(?:RULE|SAN:(DNS|URI|IP|EMAIL)):((?:\\.|[^\\/])*)/((?:\\.|[^\\/])*)/([LU]?)`
const RULE_SPLITTER = new RegExp(String.raw`\s*(${RULE_BODY}|.*?)\s*(?:[,\n]\s*|$)`, 'gy')
const RULE_PARSER = new RegExp(`^(?:${RULE_BODY})$`)

/** The rules of a comma-separated text, each as written (a regex's own commas kept), not yet checked. */
export function splitMappingRules(text: string): string[] {
  const rules: string[] = []
  RULE_SPLITTER.lastIndex = 0
  const trimmed = text.trim()
  while (RULE_SPLITTER.lastIndex < trimmed.length) {
    const match = RULE_SPLITTER.exec(trimmed)
    if (!match || match[0] === '') break
    if (match[1]!.trim() !== '') rules.push(match[1]!.trim())
  }
  return rules
}

/** Parses the rules; a bad one is a CONFIG error naming it and the syntax. */
export function parsePrincipalMapping(texts: string[]): PrincipalMapping {
  if (texts.length === 0) return DEFAULT_PRINCIPAL_MAPPING
  return {rules: texts.map(parseRule), mapped: new Map()}
}

function parseRule(text: string): MappingRule {
  const match = RULE_PARSER.exec(text)
  if (!match) throw new LignumError('CONFIG', `invalid tls.principalMappingRules rule "${text}": expected ${MAPPING_RULES_SYNTAX}`)
  if (match[1] !== undefined) return {kind: 'default'}
  const [, , sanType, regex, replacement, casing] = match
  let pattern: RegExp
  try {
    // Anchored: Kafka's rule applies only when its regex matches the whole name (Matcher.matches).
    pattern = new RegExp(`^(?:${regex})$`)
  } catch (error) {
    throw new LignumError('CONFIG', `invalid tls.principalMappingRules rule "${text}": its regex does not compile (${(error as Error).message}); expected ${MAPPING_RULES_SYNTAX}`)
  }
  return {kind: sanType ? 'san' : 'subject', sanType: sanType as SanType | undefined, pattern, replacement: replacement!, casing: casing as '' | 'L' | 'U', text}
}

/**
 * The principal of a verified peer certificate (tls' getPeerCertificate(), which grpc-js keeps
 * on a call too), or undefined when no rule matches. DEFAULT alone reads the CN and parses nothing.
 */
export function principalOfPeerCertificate(mapping: PrincipalMapping, peer: PeerCertificate): MappedPrincipal {
  const commonName = commonNameOf(peer.subject as unknown as Record<string, string | string[] | undefined>)
  if (mapping === DEFAULT_PRINCIPAL_MAPPING) return {principal: commonName}
  const {mapped: cache} = mapping
  if (cache?.has(peer.fingerprint256)) return cache.get(peer.fingerprint256)
  // The subject object of getPeerCertificate() merges repeated fields (OU=eng, OU=ops) and loses
  // their order; X509Certificate.subject keeps both, one field a line, escaped as RFC 2253.
  const subjectFields = new X509Certificate(peer.raw).subject.split('\n')
  const mapped = mapPrincipal(mapping, {subjectFields, sans: subjectAlternativeNamesOf(peer.subjectaltname), commonName})
  if (cache) {
    if (cache.size >= MAPPED_CERTIFICATES_MAX) cache.delete(cache.keys().next().value!)
    cache.set(peer.fingerprint256, mapped)
  }
  return mapped
}

/** The subject DN in RFC 2253 form: most specific first, so the certificate's fields reversed. */
export function distinguishedNameOf(subjectFields: string[]): string {
  return [...subjectFields].reverse().join(',')
}

/** What the first matching rule gives (principal undefined: anonymous), or undefined when none matches. */
export type MappedPrincipal = {principal: string | undefined} | undefined

export function mapPrincipal(mapping: PrincipalMapping, names: CertificateNames): MappedPrincipal {
  const dn = distinguishedNameOf(names.subjectFields)
  for (const rule of mapping.rules) {
    if (rule.kind === 'default') return {principal: names.commonName}
    const principal = applyRule(rule, rule.kind === 'subject' ? [dn] : names.sans.filter((san) => san.type === rule.sanType).map((san) => san.value))
    // An empty principal names nobody: the next rule is tried.
    if (principal) return {principal}
  }
  return undefined
}

function applyRule(rule: Exclude<MappingRule, {kind: 'default'}>, candidates: string[]): string | undefined {
  for (const candidate of candidates) {
    const match = rule.pattern.exec(candidate)
    if (!match) continue
    const principal = expandReplacement(rule.replacement, match)
    return rule.casing === 'L' ? principal.toLowerCase() : rule.casing === 'U' ? principal.toUpperCase() : principal
  }
  return undefined
}

/** Java's replacement syntax: $n is group n (as many digits as name a group), \x is x. */
function expandReplacement(replacement: string, match: RegExpExecArray): string {
  let result = ''
  for (let index = 0; index < replacement.length; index++) {
    const character = replacement[index]!
    if (character === '\\' && index + 1 < replacement.length) {
      result += replacement[++index]
    } else if (character === '$' && /\d/.test(replacement[index + 1] ?? '')) {
      let group = Number(replacement[++index])
      while (/\d/.test(replacement[index + 1] ?? '') && group * 10 + Number(replacement[index + 1]) < match.length) group = group * 10 + Number(replacement[++index])
      result += match[group] ?? ''
    } else {
      result += character
    }
  }
  return result
}

const SAN_TYPES: Record<string, SanType> = {DNS: 'DNS', URI: 'URI', 'IP Address': 'IP', email: 'EMAIL'}
// node:tls' subjectaltname: "DNS:a, URI:b, IP Address:c"; a value holding a comma is JSON-quoted.
const SAN_ENTRY = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g

/** The subject alternative names of node's `subjectaltname` text, of the types rules can name. */
export function subjectAlternativeNamesOf(text: string | undefined): {type: SanType; value: string}[] {
  const names: {type: SanType; value: string}[] = []
  for (const [, type, value] of (text ?? '').matchAll(SAN_ENTRY)) {
    const sanType = SAN_TYPES[type!]
    if (sanType) names.push({type: sanType, value: value!.startsWith('"') ? (JSON.parse(value!) as string) : value!})
  }
  return names
}
