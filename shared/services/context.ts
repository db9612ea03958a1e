import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from '../logging/logger.js';
import type { Role } from '../models/user.js';

/** The authenticated caller, taken from a verified access token and a live user row. */
export interface Principal {
  userId: string;
  tenantId: string;
  roles: Role[];
}

/**
 * What every service and repository is built from, once per invocation: the invocation's own
 * EntityManager (its unit of work), the tenant every query is scoped to, and its logger.
 */
export interface DomainContext {
  em: EntityManager;
  tenantId: string;
  log: Logger;
  correlationId: string;
  principal?: Principal;
}
