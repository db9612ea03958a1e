import { EntitySchema, OptionalProps } from '@mikro-orm/core';

export class Tenant {
  [OptionalProps]?: 'createdAt';
  id!: string;
  slug!: string;
  name!: string;
  createdAt: Date = new Date();
}

export const TenantSchema = new EntitySchema<Tenant>({
  class: Tenant,
  tableName: 'tenants',
  properties: {
    id: { type: 'uuid', primary: true },
    slug: { type: 'text' },
    name: { type: 'text' },
    createdAt: { type: 'Date', columnType: 'timestamptz', onCreate: () => new Date() },
  },
});
