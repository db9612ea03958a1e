import { ArrayType, EntitySchema, OptionalProps } from '@mikro-orm/core';
import { timestamps } from './common.js';

export type Role = 'customer' | 'admin';

/** PII columns hold Fernet tokens; `emailBidx` is the keyed blind index used for lookups. */
export class User {
  [OptionalProps]?:
    'phoneEnc' | 'addressEnc' | 'roles' | 'passwordChangedAt' | 'deletedAt' | 'createdAt' | 'updatedAt';
  id!: string;
  tenantId!: string;
  emailEnc!: string;
  emailBidx!: string;
  phoneEnc: string | null = null;
  addressEnc: string | null = null;
  name!: string;
  passwordHash!: string;
  roles: Role[] = ['customer'];
  passwordChangedAt: Date = new Date();
  deletedAt: Date | null = null;
  createdAt: Date = new Date();
  updatedAt: Date = new Date();
}

export const UserSchema = new EntitySchema<User>({
  class: User,
  tableName: 'users',
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    emailEnc: { type: 'text' },
    emailBidx: { type: 'text' },
    phoneEnc: { type: 'text', nullable: true },
    addressEnc: { type: 'text', nullable: true },
    name: { type: 'text' },
    passwordHash: { type: 'text', hidden: true },
    roles: { type: ArrayType, columnType: 'text[]' },
    passwordChangedAt: { type: 'Date', columnType: 'timestamptz' },
    deletedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    ...timestamps,
  },
});
