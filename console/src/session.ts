import { call, typedClient, type Credentials, type Problem, type Schemas } from './api';

/** Refresh this long before the access token expires (the API's tokens live 15 minutes). */
const REFRESH_MARGIN_MS = 60_000;

export interface SignInForm {
  tenantId: string;
  email: string;
  password: string;
  adminToken: string;
}

interface Tokens {
  accessToken: string;
  refreshToken: string;
  expiresAt: number;
}

export type SessionListener = (signedIn: boolean, reason?: Problem) => void;

/**
 * The admin's credentials, in this object's memory only: never localStorage, sessionStorage or a
 * cookie, so a reload or a closed tab signs out, and no other script or tab can read them. The access
 * token is refreshed before it expires (on a timer, and again before a request if the timer slept with
 * the tab); signing out revokes the refresh token's family on the server.
 */
export class Session implements Credentials {
  #tokens: Tokens | undefined;
  #adminToken = '';
  #tenantId = '';
  #timer: ReturnType<typeof setTimeout> | undefined;
  #refreshing: Promise<boolean> | undefined;
  readonly #anonymous = typedClient();
  readonly #listeners = new Set<SessionListener>();
  email = '';

  get signedIn(): boolean {
    return this.#tokens !== undefined;
  }

  onChange(listener: SessionListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async signIn(form: SignInForm): Promise<Problem | undefined> {
    const login = await call(
      this.#anonymous.POST('/auth/login', {
        body: { email: form.email, password: form.password },
        headers: { 'x-tenant-id': form.tenantId.trim() },
      }),
    );
    if (!login.ok) return login.problem;
    this.#adminToken = form.adminToken;
    this.#tenantId = form.tenantId.trim();
    this.#accept(login.data);
    // Only an admin holding the right admin token gets past here: ask a manage route, not the UI.
    const probe = await call(typedClient(this).GET('/manage/orders', { params: { query: { pageSize: 1 } } }));
    if (!probe.ok) {
      await this.signOut();
      return probe.problem;
    }
    this.email = form.email;
    this.#emit(true);
    return undefined;
  }

  async headers(): Promise<Record<string, string>> {
    if (this.#tokens && this.#tokens.expiresAt - Date.now() < REFRESH_MARGIN_MS) await this.refresh();
    if (!this.#tokens) return {};
    return { authorization: `Bearer ${this.#tokens.accessToken}`, 'x-admin-token': this.#adminToken };
  }

  /** Rotates the token pair; on failure the session ends (the refresh token may have been revoked). */
  refresh(): Promise<boolean> {
    this.#refreshing ??= this.#rotate().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #rotate(): Promise<boolean> {
    const current = this.#tokens;
    if (!current) return false;
    const result = await call(
      this.#anonymous.POST('/auth/refresh', {
        params: { header: { 'X-Tenant-ID': this.#tenantId } },
        body: { refreshToken: current.refreshToken },
      }),
    );
    if (!result.ok) {
      this.#clear();
      this.#emit(false, result.problem);
      return false;
    }
    this.#accept(result.data);
    return true;
  }

  async signOut(): Promise<void> {
    const current = this.#tokens;
    const tenantId = this.#tenantId;
    this.#clear();
    if (current) {
      // The tokens are gone from this page before the answer comes back, whatever it is.
      await call(
        this.#anonymous.POST('/auth/logout', {
          params: { header: { 'X-Tenant-ID': tenantId } },
          body: { refreshToken: current.refreshToken },
        }),
      );
    }
    this.#emit(false);
  }

  #accept(pair: Schemas['TokenPair']): void {
    this.#tokens = {
      accessToken: pair.accessToken,
      refreshToken: pair.refreshToken,
      expiresAt: Date.now() + pair.expiresIn * 1000,
    };
    clearTimeout(this.#timer);
    const delay = Math.max(1_000, pair.expiresIn * 1000 - REFRESH_MARGIN_MS);
    this.#timer = setTimeout(() => void this.refresh(), delay);
  }

  #clear(): void {
    clearTimeout(this.#timer);
    this.#tokens = undefined;
    this.#adminToken = '';
    this.#tenantId = '';
    this.email = '';
  }

  #emit(signedIn: boolean, reason?: Problem): void {
    for (const listener of this.#listeners) listener(signedIn, reason);
  }
}
