import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeOrms } from '../../../shared/db/orm.js';
import { runUnitOfWork } from '../../../shared/db/unit-of-work.js';
import { PreconditionFailedException, UnauthorizedException } from '../../../shared/errors/index.js';
import { silentLogger } from '../../../shared/logging/logger.js';
import { CartService } from '../../../shared/services/cart/cart-service.js';
import type { DomainContext } from '../../../shared/services/context.js';
import {
  closeTestPool,
  createProduct,
  createTenant,
  testPool,
  type CreatedProduct,
} from '../../fixtures/sample_data.js';
import { authHeaders, createUser } from '../../fixtures/users.js';
import { putItem, quantities, storedCart } from './helpers.js';

/** What checkout does: a unit of work for a given tenant and user, with no HTTP principal at all. */
function asCheckout<T>(tenantId: string, userId: string, fn: (cart: CartService) => Promise<T>): Promise<T> {
  return runUnitOfWork('write', (em) => {
    const ctx: DomainContext = { em, tenantId, log: silentLogger, correlationId: 'checkout-test' };
    return fn(new CartService(ctx, userId));
  });
}

describe('CartService for checkout (snapshot, removeOrdered, clear)', () => {
  let tenant: { id: string };
  let otherTenant: { id: string };
  let mug: CreatedProduct;
  let tea: CreatedProduct;
  let kettle: CreatedProduct;

  beforeAll(async () => {
    tenant = await createTenant('Cart service shop');
    otherTenant = await createTenant('Cart service other');
    mug = await createProduct(tenant.id, { name: 'Mug', priceCents: 1800, stock: 40 });
    tea = await createProduct(tenant.id, { name: 'Tea', priceCents: 1250, stock: 40 });
    kettle = await createProduct(tenant.id, { name: 'Kettle', priceCents: 8900, stock: 40 });
  });

  afterAll(async () => {
    await closeOrms();
    await closeTestPool();
  });

  it('snapshots the lines at current prices with the currency and the version they belong to', async () => {
    const user = await createUser(tenant.id);
    const headers = await authHeaders(user);
    await putItem(headers, mug.id, 2);
    await putItem(headers, tea.id, 1);
    await testPool().query('update products set price_cents = 2000 where id = $1', [mug.id]);
    try {
      const snapshot = await asCheckout(tenant.id, user.id, (cart) => cart.snapshot());
      expect(snapshot).toEqual({
        cartId: expect.any(String),
        version: 2,
        currency: 'USD',
        totalCents: 4000 + 1250,
        lines: [
          {
            productId: mug.id,
            name: 'Mug',
            quantity: 2,
            unitPriceCents: 2000,
            currency: 'USD',
            lineTotalCents: 4000,
          },
          {
            productId: tea.id,
            name: 'Tea',
            quantity: 1,
            unitPriceCents: 1250,
            currency: 'USD',
            lineTotalCents: 1250,
          },
        ],
      });
    } finally {
      await testPool().query('update products set price_cents = 1800 where id = $1', [mug.id]);
    }
  });

  it('snapshots an empty cart for a user who never had one, and only within the given tenant', async () => {
    const user = await createUser(tenant.id);
    expect(await asCheckout(tenant.id, user.id, (cart) => cart.snapshot())).toEqual({
      cartId: null,
      version: 0,
      currency: null,
      lines: [],
      totalCents: 0,
    });
    await putItem(await authHeaders(user), mug.id, 1);
    const elsewhere = await asCheckout(otherTenant.id, user.id, (cart) => cart.snapshot());
    expect(elsewhere.lines).toEqual([]);
  });

  it('removeOrdered takes out what the order bought and keeps what was added or raised meanwhile', async () => {
    const user = await createUser(tenant.id);
    const headers = await authHeaders(user);
    await putItem(headers, mug.id, 2);
    await putItem(headers, tea.id, 3);
    const snapshot = await asCheckout(tenant.id, user.id, (cart) => cart.snapshot());
    // While the payment is pending the customer raises the tea and adds a kettle.
    await putItem(headers, tea.id, 5);
    await putItem(headers, kettle.id, 1);

    const after = await asCheckout(tenant.id, user.id, (cart) => cart.removeOrdered(snapshot.lines));
    expect(quantities(after)).toEqual({ [tea.id]: 2, [kettle.id]: 1 });
    expect(after.version).toBe(5);
    expect(await storedCart(tenant.id, user.id)).toMatchObject({
      version: 5,
      lines: { [tea.id]: 2, [kettle.id]: 1 },
    });
  });

  it('removeOrdered with the snapshot version refuses a cart that changed since (412) and changes nothing', async () => {
    const user = await createUser(tenant.id);
    const headers = await authHeaders(user);
    await putItem(headers, mug.id, 2);
    const snapshot = await asCheckout(tenant.id, user.id, (cart) => cart.snapshot());
    await putItem(headers, tea.id, 1);
    await expect(
      asCheckout(tenant.id, user.id, (cart) =>
        cart.removeOrdered(snapshot.lines, { kind: 'versions', versions: [snapshot.version] }),
      ),
    ).rejects.toBeInstanceOf(PreconditionFailedException);
    expect(await storedCart(tenant.id, user.id)).toMatchObject({
      version: 2,
      lines: { [mug.id]: 2, [tea.id]: 1 },
    });
  });

  it('clear empties the cart and bumps its version; a failed unit of work leaves the cart intact', async () => {
    const user = await createUser(tenant.id);
    const headers = await authHeaders(user);
    await putItem(headers, mug.id, 2);

    // Checkout failing after clearing (in the same transaction) must not lose the cart.
    await expect(
      asCheckout(tenant.id, user.id, async (cart) => {
        await cart.clear();
        throw new Error('payment failed');
      }),
    ).rejects.toThrow('payment failed');
    expect(await storedCart(tenant.id, user.id)).toMatchObject({ version: 1, lines: { [mug.id]: 2 } });

    const cleared = await asCheckout(tenant.id, user.id, (cart) => cart.clear());
    expect(cleared).toEqual({ lines: [], totalCents: 0, currency: null, version: 2 });
    expect(await storedCart(tenant.id, user.id)).toMatchObject({ carts: 1, version: 2, rows: 0 });
  });

  it('forCaller needs an authenticated principal', async () => {
    await runUnitOfWork('read', async (em) => {
      expect(() =>
        CartService.forCaller({ em, tenantId: tenant.id, log: silentLogger, correlationId: 'x' }),
      ).toThrow(UnauthorizedException);
    });
  });
});
