import { EntitySchema, OptionalProps } from '@mikro-orm/core';

/** Opaque refresh tokens are stored only as a hash; a family is one login's rotation chain. */
export class RefreshToken {
  [OptionalProps]?: 'rotatedAt' | 'revokedAt' | 'createdAt';
  id!: string;
  tenantId!: string;
  userId!: string;
  familyId!: string;
  tokenHash!: string;
  expiresAt!: Date;
  rotatedAt: Date | null = null;
  revokedAt: Date | null = null;
  createdAt: Date = new Date();
}

export const RefreshTokenSchema = new EntitySchema<RefreshToken>({
  class: RefreshToken,
  tableName: 'refresh_tokens',
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    userId: { type: 'uuid' },
    familyId: { type: 'uuid' },
    tokenHash: { type: 'text' },
    expiresAt: { type: 'Date', columnType: 'timestamptz' },
    rotatedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    revokedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    createdAt: { type: 'Date', columnType: 'timestamptz', onCreate: () => new Date() },
  },
});
