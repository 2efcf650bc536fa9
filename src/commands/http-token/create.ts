import {Flags} from '@oclif/core'
import {LignumCommand} from '../../cli/lignum-command.js'
import {newBearerToken} from '../../tokens/bearer-token.js'
import {appendTokenFileLine} from '../../tokens/token-file-append.js'
import {checkPrincipalName, tokenFileLine} from '../../tokens/token-file.js'

interface CreatedToken {
  principal: string
  token: string
  entry: string
  file?: string
}

export default class HttpTokenCreate extends LignumCommand {
  static override summary = 'Make a bearer token for the HTTP API.'

  static override description = `Prints a new random token once, and the line of the node's http.tokensFile that maps it to the principal (the token's SHA-256, never the token). With --file the line is appended to that file; nodes reading it take the token within a second, without a restart. A principal may have several tokens: add the new one, move clients over, then delete the old line to revoke it.

Clients send it as "Authorization: Bearer <token>" (Prometheus: bearer_token_file; curl: -H "Authorization: Bearer $TOKEN").`

  static override examples = [
    '<%= config.bin %> http-token create --principal prometheus',
    '<%= config.bin %> http-token create --principal ci --file /etc/lignum/http-tokens',
    'TOKEN=$(<%= config.bin %> http-token create --principal ci --file http-tokens --json | jq -r .token)',
  ]

  static override enableJsonFlag = true

  static override flags = {
    principal: Flags.string({char: 'p', required: true, description: 'who the token stands for, as ACL rules and logs name it (e.g. prometheus)'}),
    file: Flags.string({char: 'f', description: 'tokens file to append the entry to (created if missing)'}),
  }

  async run(): Promise<CreatedToken> {
    const {flags} = await this.parse(HttpTokenCreate)
    checkPrincipalName(flags.principal)
    const token = newBearerToken()
    const entry = tokenFileLine(flags.principal, token)
    if (flags.file !== undefined) await appendTokenFileLine(flags.file, entry)
    if (!this.jsonEnabled()) {
      this.log(`Token for ${flags.principal} (shown only now: keep it in your secret store):`)
      this.log(token)
      this.log(flags.file === undefined ? `Add this line to the node's http.tokensFile:\n${entry}` : `Appended ${entry} to ${flags.file}.`)
    }
    return {principal: flags.principal, token, entry, ...(flags.file === undefined ? {} : {file: flags.file})}
  }
}
