/**
 * The tokens file and its tokens, without a node: what a line must look like, that the file
 * holds a hash that only the token itself matches, and that no message repeats a line (a line
 * may hold a token pasted by mistake).
 */
import {expect} from 'chai'
import {createHash} from 'node:crypto'
import {errorLine, LignumError} from '../../src/errors.js'
import {BEARER_TOKEN_LENGTH_MAX, bearerTokenHash, isWellFormedBearerToken, newBearerToken} from '../../src/tokens/bearer-token.js'
import {parseTokenFile, TOKEN_ENTRIES_MAX, tokenFileLine} from '../../src/tokens/token-file.js'

const SOURCE = 'http.tokensFile tokens'

function refusal(text: string): string {
  try {
    parseTokenFile(text, SOURCE)
  } catch (error) {
    expect(error).to.be.instanceOf(LignumError)
    expect((error as LignumError).code).to.equal('CONFIG')
    return errorLine(error as LignumError)
  }
  throw new Error('parseTokenFile accepted the file')
}

describe('bearer tokens', () => {
  it('are lgn_ and 256 random bits in base64url, different every time', () => {
    const tokens = new Set(Array.from({length: 100}, () => newBearerToken()))
    expect(tokens.size).to.equal(100)
    for (const token of tokens) {
      expect(token).to.match(/^lgn_[A-Za-z0-9_-]{43}$/)
      expect(isWellFormedBearerToken(token)).to.equal(true)
    }
  })

  it('hash to their SHA-256, as `printf %s TOKEN | sha256sum` prints it', () => {
    // FIPS 180-2's test vector.
    expect(bearerTokenHash('abc').toString('hex')).to.equal('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  })

  it('refuses what RFC 6750 does not allow after "Bearer ", and anything too long', () => {
    for (const bad of ['', 'two words', 'a,b', 'tok"en', 'ünïcode', '=start']) expect(isWellFormedBearerToken(bad), bad).to.equal(false)
    expect(isWellFormedBearerToken('a'.repeat(BEARER_TOKEN_LENGTH_MAX))).to.equal(true)
    expect(isWellFormedBearerToken('a'.repeat(BEARER_TOKEN_LENGTH_MAX + 1))).to.equal(false)
    expect(isWellFormedBearerToken('abc+/~.-_==')).to.equal(true)
  })
})

describe('the tokens file', () => {
  it('maps each line\'s hash to its principal, skipping comments and blank lines', () => {
    const [alice, aliceNext, bob] = [newBearerToken(), newBearerToken(), newBearerToken()]
    const text = ['# HTTP tokens', '', tokenFileLine('alice', alice), `  ${tokenFileLine('alice', aliceNext)}  `, tokenFileLine('bob', bob), ''].join('\n')
    const entries = parseTokenFile(text, SOURCE)
    expect(entries.map((entry) => entry.principal)).to.deep.equal(['alice', 'alice', 'bob'])
    expect(entries[2]!.hash.equals(bearerTokenHash(bob))).to.equal(true)
    expect(entries[0]!.hash.equals(bearerTokenHash(bob))).to.equal(false)
  })

  it('holds the hash, never the token', () => {
    const token = newBearerToken()
    const line = tokenFileLine('ci', token)
    expect(line).to.equal(`ci:sha256:${createHash('sha256').update(token).digest('hex')}`)
    expect(line).to.not.include(token)
    expect(line).to.not.include(token.slice(4, 20))
  })

  it('accepts a hash in capitals (as some tools print it) and an empty file', () => {
    const token = newBearerToken()
    const [entry] = parseTokenFile(tokenFileLine('ci', token).replace(/:([0-9a-f]+)$/, (_, hex: string) => ':' + hex.toUpperCase()), SOURCE)
    expect(entry!.hash.equals(bearerTokenHash(token))).to.equal(true)
    expect(parseTokenFile('', SOURCE)).to.deep.equal([])
    expect(parseTokenFile('# nobody yet\n', SOURCE)).to.deep.equal([])
  })

  it('refuses a bad line by its number, without repeating it', () => {
    const good = tokenFileLine('alice', newBearerToken())
    const cases: [string, RegExp][] = [
      [`${good}\nbob:sha256:abc\n`, /^http\.tokensFile tokens line 2 is not "principal:sha256:<64 hex digits>"; make entries with lignum http-token create$/],
      [`${good}\nbob:md5:${'a'.repeat(64)}`, /line 2 is not "principal:sha256:/],
      [`:sha256:${'a'.repeat(64)}`, /line 1 is not/],
      [`bob carol:sha256:${'a'.repeat(64)}`, /line 1 is not/],
      [`bob:sha256:${'a'.repeat(64)} trailing`, /line 1 is not/],
    ]
    for (const [text, message] of cases) {
      const refused = refusal(text)
      expect(refused, text).to.match(message)
      expect(refused).to.not.include('abc')
      expect(refused).to.not.include('aaaa')
    }
  })

  it('says so when a line holds a token itself, and does not repeat it', () => {
    const token = newBearerToken()
    for (const text of [token, `ci:${token}`, `ci:sha256:${token}`]) {
      const refused = refusal(text)
      expect(refused).to.match(/line 1 looks like it holds a token itself, not its hash; remove it, treat that token as leaked/)
      expect(refused).to.not.include(token.slice(4))
    }
  })

  it('refuses one hash on two lines: a token maps to one principal', () => {
    const token = newBearerToken()
    const text = [tokenFileLine('alice', token), '# moved', tokenFileLine('bob', token)].join('\n')
    expect(refusal(text)).to.equal(`${SOURCE} line 3 repeats the hash of line 1; a token maps to one principal: remove one of them`)
  })

  it(`holds at most ${TOKEN_ENTRIES_MAX} entries`, () => {
    const lines = Array.from({length: TOKEN_ENTRIES_MAX}, (_, index) => `p${index}:sha256:${index.toString(16).padStart(64, '0')}`)
    expect(parseTokenFile(lines.join('\n'), SOURCE)).to.have.length(TOKEN_ENTRIES_MAX)
    lines.push(`over:sha256:${'f'.repeat(64)}`)
    expect(refusal(lines.join('\n'))).to.match(new RegExp(`holds more than ${TOKEN_ENTRIES_MAX} entries; remove tokens no longer used`))
  })

  it('refuses a principal that cannot be written on a line', () => {
    for (const principal of ['', 'a b', 'a:b', '#a']) expect(() => tokenFileLine(principal, newBearerToken()), principal).to.throw(/must be a name without spaces, ":" or "#"/)
  })
})
