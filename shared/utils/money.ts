import { BadRequestException } from '../errors/index.js';

/** Money is integer minor units; every arithmetic step stays an exact safe integer or fails loudly. */
export function multiplyMinor(unitCents: number, quantity: number): number {
  const total = unitCents * quantity;
  if (!Number.isSafeInteger(total) || total < 0) throw new BadRequestException('Amount out of range.');
  return total;
}

export function sumMinor(amounts: readonly number[]): number {
  let total = 0;
  for (const amount of amounts) {
    total += amount;
    if (!Number.isSafeInteger(total)) throw new BadRequestException('Amount out of range.');
  }
  return total;
}
