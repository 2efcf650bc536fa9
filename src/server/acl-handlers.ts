/**
 * The gRPC handlers of `lignum acl`: list the rules (describe on the cluster), add or remove
 * one (alter on the cluster). A change goes to the node's rule store (its rules file, or the
 * cluster's Consul key) and is in force on this node when the answer leaves; other nodes take
 * a Consul change within one blocking query. Authorization off: one line saying how to turn it on.
 */
import type {sendUnaryData, ServerUnaryCall} from '@grpc/grpc-js'
import {clusterResource, parseRule, type AclRule} from '../acl/acl-rule.js'
import type {AccessControl} from '../acl/access-control.js'
import {LignumError} from '../errors.js'
import type {AclRule as WireAclRule, ChangeAclRequest, ChangeAclResponse, ListAclsRequest, ListAclsResponse} from '../generated/lignum/v1/lignum.js'
import {callPrincipal, requireAllowed} from './authorization.js'
import type {ServingContext} from './serving-context.js'

type Unary = <Request, Response>(handler: (request: Request, call: ServerUnaryCall<Request, Response>) => Promise<Response> | Response) => (call: ServerUnaryCall<Request, Response>, callback: sendUnaryData<Response>) => void

export function aclHandlers(context: ServingContext, unary: Unary) {
  return {
    listAcls: unary((_request: ListAclsRequest, call): ListAclsResponse => {
      const access = accessOrRefuse(context)
      requireAllowed(access, callPrincipal(call, context.principalMapping), 'describe', clusterResource())
      return {rules: access.rules.map(ruleToWire), store: access.where}
    }),

    addAcl: unary(async (request: ChangeAclRequest, call): Promise<ChangeAclResponse> => {
      const access = accessOrRefuse(context)
      const principal = callPrincipal(call, context.principalMapping)
      requireAllowed(access, principal, 'alter', clusterResource())
      return {changed: (await access.add(ruleFromWire(request), principal)) === 'added', store: access.where}
    }),

    removeAcl: unary(async (request: ChangeAclRequest, call): Promise<ChangeAclResponse> => {
      const access = accessOrRefuse(context)
      const principal = callPrincipal(call, context.principalMapping)
      requireAllowed(access, principal, 'alter', clusterResource())
      return {changed: (await access.remove(ruleFromWire(request), principal)) === 'removed', store: access.where}
    }),
  }
}

function accessOrRefuse(context: ServingContext): AccessControl {
  if (context.access) return context.access
  throw new LignumError('CONFIG', `authorization is off on node ${context.nodeId}: everyone may do everything`, {hint: `turn it on with acl.enabled true (serve --acl-enabled, or LIGNUM_ACL_ENABLED=true) and restart the node`})
}

export function ruleToWire(rule: AclRule): WireAclRule {
  return {...rule}
}

function ruleFromWire(request: ChangeAclRequest): AclRule {
  const wire = request.rule
  if (!wire) throw new LignumError('INVALID_ARGUMENT', 'the request names no rule')
  return parseRule({...wire, patternType: wire.patternType || 'literal', resourceName: wire.resourceType === 'cluster' && wire.resourceName === '' ? undefined : wire.resourceName}, 'the rule')
}
