import { BigIntType } from '@mikro-orm/core';

/** int8 columns (money, counters) mapped to JS numbers: amounts stay far below 2^53 minor units. */
export const bigintNumber = (): BigIntType<'number'> => new BigIntType('number');

export const timestamps = {
  createdAt: { type: 'Date', columnType: 'timestamptz', onCreate: () => new Date() },
  updatedAt: {
    type: 'Date',
    columnType: 'timestamptz',
    onCreate: () => new Date(),
    onUpdate: () => new Date(),
  },
} as const;
