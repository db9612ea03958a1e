import type { FieldCipher } from '../../crypto/field-cipher.js';
import type { PasswordHasher } from '../../crypto/password-hasher.js';
import { emailBlindIndex } from '../../crypto/blind-index.js';
import {
  ConflictException,
  ForbiddenException,
  NotFoundException,
  UnauthorizedException,
} from '../../errors/index.js';
import type { Role } from '../../models/user.js';
import { RefreshTokenRepository } from '../../repositories/refresh-token-repository.js';
import { UserRepository, type UserCredentials } from '../../repositories/user-repository.js';
import type { ProfileBody, RegisterInput, TokenPairBody } from '../../schemas/auth.js';
import { trackEvent } from '../../telemetry/index.js';
import { newId } from '../../utils/ids.js';
import type { DomainContext } from '../context.js';
import type { LoginRateLimiter } from '../rate-limit/login-rate-limiter.js';
import { ACCESS_TOKEN_TTL_SECONDS, type AccessTokenService } from './access-token.js';
import { verifyStoredHash, withPasswordPolicy } from './passwords.js';
import { REFRESH_TOKEN_TTL_SECONDS, hashRefreshToken, newRefreshToken } from './refresh-tokens.js';
import { replacePasswordAndEndSessions } from './sessions.js';
import { encryptPii } from './user-pii.js';

export interface AuthDependencies {
  hasher: PasswordHasher;
  cipher: FieldCipher;
  emailIndexKey: Buffer;
  accessTokens: AccessTokenService;
  rateLimiter: LoginRateLimiter;
  /** The app clock (password_changed_at must agree with the `iat` the access tokens carry). */
  now?: () => Date;
}

export interface RegisteredUserBody {
  id: string;
  email: string;
  name: string;
}

/** One message for unknown email and wrong password alike: the answer must not say which. */
const BAD_CREDENTIALS = 'The email or password is incorrect.';
/** One message for every refresh failure (unknown, expired, revoked, reused). */
const BAD_REFRESH = 'The refresh token is invalid or has expired.';

/**
 * Accounts and sessions of one tenant: registration, login, refresh-token rotation, logout, profile and
 * password change. Built per invocation from its DomainContext.
 *
 * Routes that hash passwords run without an ambient transaction (bcrypt takes ~200 ms and must not hold
 * a pooled connection); where several writes must be atomic this service opens its own transaction.
 */
export class AuthService {
  readonly #users: UserRepository;
  readonly #tokens: RefreshTokenRepository;

  constructor(
    private readonly ctx: DomainContext,
    private readonly deps: AuthDependencies,
  ) {
    this.#users = new UserRepository(ctx);
    this.#tokens = new RefreshTokenRepository(ctx);
  }

  #now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  /**
   * Creates a customer. The password is hashed before the uniqueness check so a taken email costs the
   * same time as a new one. @throws ConflictException when the tenant already has this email.
   */
  async register(input: RegisterInput): Promise<RegisteredUserBody> {
    const passwordHash = await withPasswordPolicy('body.password', () =>
      this.deps.hasher.hash(input.password),
    );
    const id = newId();
    const created = await this.#users.insert(
      {
        id,
        ...encryptPii(input, this.deps.cipher, this.deps.emailIndexKey),
        name: input.name,
        passwordHash,
        roles: ['customer'],
      },
      this.#now(),
    );
    if (!created) throw new ConflictException('An account with this email already exists.');
    this.ctx.log.info(`auth: registered user ${id}`);
    trackEvent('auth.register', { tenantId: this.ctx.tenantId });
    return { id, email: input.email, name: input.name };
  }

  /**
   * Email + password → a new session (token pair). Rate-limited per client address before any work.
   * @throws RateLimitedException (429), UnauthorizedException (401) for any bad credential.
   */
  async login(email: string, password: string, clientIp: string): Promise<TokenPairBody> {
    await this.deps.rateLimiter.consume(clientIp, this.ctx.log);
    const user = await this.#users.findCredentialsByEmailIndex(
      emailBlindIndex(this.deps.emailIndexKey, email),
    );
    const matches = await withPasswordPolicy('body.password', () => this.#passwordMatches(password, user));
    if (!user || !matches) {
      this.ctx.log.info(`auth: login failed (${user ? 'wrong password' : 'unknown email'})`);
      trackEvent('auth.login', { outcome: 'failure', tenantId: this.ctx.tenantId });
      throw new UnauthorizedException(BAD_CREDENTIALS);
    }
    await this.#upgradeHash(user, password);
    this.ctx.log.info(`auth: login succeeded for user ${user.id}`);
    trackEvent('auth.login', { outcome: 'success', tenantId: this.ctx.tenantId });
    return this.#startSession(this.#tokens, user, newId());
  }

  /**
   * Rotates a refresh token: the presented one is spent, a new pair is returned in the same family.
   * Presenting an already-rotated token again is treated as theft: the whole family is revoked.
   * @throws UnauthorizedException for every failure.
   */
  async refresh(refreshToken: string): Promise<TokenPairBody> {
    const tokenHash = hashRefreshToken(refreshToken);
    const rotated = await this.ctx.em.transactional(async (em) => {
      const scoped: DomainContext = { ...this.ctx, em };
      const tokens = new RefreshTokenRepository(scoped);
      const claimed = await tokens.claim(tokenHash);
      if (!claimed) return null;
      const user = await new UserRepository(scoped).findCredentialsById(claimed.userId);
      if (!user) {
        await tokens.revokeFamily(claimed.familyId);
        return 'user-gone' as const;
      }
      return this.#startSession(tokens, user, claimed.familyId);
    });
    if (rotated === null) await this.#explainRefreshFailure(tokenHash);
    if (rotated === null || rotated === 'user-gone') throw new UnauthorizedException(BAD_REFRESH);
    return rotated;
  }

  /**
   * Why a refresh token could not be claimed, and the one case that needs action: a token that was
   * already rotated is being replayed. Either the client or a thief used it first; we cannot tell
   * which, so the family ends (RFC 9700 §4.14.2). A token that is unrotated but was not claimable is
   * locked by a rotation in flight: a legitimate client racing itself (two tabs), not a replay.
   */
  async #explainRefreshFailure(tokenHash: string): Promise<void> {
    const state = await this.#tokens.findState(tokenHash);
    if (state === null || state.revoked || state.expired) return;
    if (state.rotated) {
      const revoked = await this.#tokens.revokeFamily(state.familyId);
      this.ctx.log.warn(
        `auth: refresh token reuse detected; family ${state.familyId} of user ${state.userId} revoked (${revoked} tokens)`,
      );
      trackEvent('auth.refresh.reuseDetected', { tenantId: this.ctx.tenantId });
      return;
    }
    this.ctx.log.info(
      `auth: refresh token of family ${state.familyId} is being rotated by a concurrent request`,
    );
  }

  /** Ends the refresh token's session (its family). Unknown tokens are ignored (RFC 7009 §2.2). */
  async logout(refreshToken: string): Promise<void> {
    const state = await this.#tokens.findState(hashRefreshToken(refreshToken));
    if (state === null) return;
    await this.#tokens.revokeFamily(state.familyId);
    this.ctx.log.info(`auth: logout of family ${state.familyId}`);
  }

  /** The user's own profile with its PII decrypted. Callers pass the authenticated principal's id only. */
  async profile(userId: string): Promise<ProfileBody> {
    const user = await this.#users.findById(userId);
    if (!user) throw new NotFoundException('User not found.');
    const { cipher } = this.deps;
    return {
      id: user.id,
      email: cipher.decrypt(user.emailEnc),
      name: user.name,
      phone: cipher.decrypt(user.phoneEnc),
      address: cipher.decrypt(user.addressEnc),
      roles: user.roles,
      createdAt: user.createdAt.toISOString(),
    };
  }

  /**
   * Changes the caller's password after checking the current one (a guess counts against the login
   * rate limit). Every session of the user ends and every access token issued before now stops working;
   * the caller gets a fresh session.
   * @throws ForbiddenException when the current password is wrong.
   */
  async changePassword(
    userId: string,
    currentPassword: string,
    newPassword: string,
    clientIp: string,
  ): Promise<TokenPairBody> {
    await this.deps.rateLimiter.consume(clientIp, this.ctx.log);
    const user = await this.#users.findCredentialsById(userId);
    if (!user) throw new UnauthorizedException('The account no longer exists.');
    const matches = await withPasswordPolicy('body.currentPassword', () =>
      this.#passwordMatches(currentPassword, user),
    );
    if (!matches) throw new ForbiddenException('The current password is not correct.');
    const hash = await withPasswordPolicy('body.newPassword', () => this.deps.hasher.hash(newPassword));
    return this.ctx.em.transactional(async (em) => {
      const scoped: DomainContext = { ...this.ctx, em };
      const revoked = await replacePasswordAndEndSessions(scoped, user.id, hash, this.#now());
      this.ctx.log.info(`auth: password changed for user ${user.id}; ${revoked} refresh tokens revoked`);
      return this.#startSession(new RefreshTokenRepository(scoped), user, newId());
    });
  }

  /**
   * bcrypt against the stored hash, or against a dummy hash of the same cost when the email is unknown,
   * so both cost the same time. A stored hash that is not bcrypt (a data fault) fails the login, is
   * logged, and costs the same too.
   */
  async #passwordMatches(password: string, user: UserCredentials | null): Promise<boolean> {
    const { hasher } = this.deps;
    if (!user) return hasher.verifyAgainstDummy(password);
    const verdict = await verifyStoredHash(hasher, password, user.passwordHash);
    if (verdict !== 'malformed') return verdict === 'match';
    this.ctx.log.error(`auth: the stored password hash of user ${user.id} is not a bcrypt hash`);
    return hasher.verifyAgainstDummy(password);
  }

  /** After a successful login: a hash made at a lower cost is replaced by one at today's cost. */
  async #upgradeHash(user: UserCredentials, password: string): Promise<void> {
    if (!this.deps.hasher.needsRehash(user.passwordHash)) return;
    const stronger = await this.deps.hasher.hash(password).catch(() => null);
    // A password that predates the length policy cannot be re-hashed by `hash`; it keeps its old hash.
    if (stronger !== null) await this.#users.replaceHash(user.id, user.passwordHash, stronger);
  }

  async #startSession(
    tokens: RefreshTokenRepository,
    user: { id: string; roles: Role[] },
    familyId: string,
  ): Promise<TokenPairBody> {
    const refreshToken = newRefreshToken();
    await tokens.insert({
      id: newId(),
      userId: user.id,
      familyId,
      tokenHash: hashRefreshToken(refreshToken),
      ttlSeconds: REFRESH_TOKEN_TTL_SECONDS,
    });
    const accessToken = await this.deps.accessTokens.issue({
      userId: user.id,
      tenantId: this.ctx.tenantId,
      roles: user.roles,
    });
    return { accessToken, refreshToken, tokenType: 'Bearer', expiresIn: ACCESS_TOKEN_TTL_SECONDS };
  }
}
