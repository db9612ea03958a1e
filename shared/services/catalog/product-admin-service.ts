import {
  ConflictException,
  PreconditionFailedException,
  ProductNotFoundException,
} from '../../errors/index.js';
import { nudgeAuditRelay } from '../audit/nudge.js';
import { AuditOutboxWriter } from '../audit/outbox.js';
import { InventoryRepository } from '../../repositories/inventory-repository.js';
import { ProductRepository } from '../../repositories/product-repository.js';
import type {
  InventoryBody,
  ProductBody,
  ProductCreateInput,
  ProductPatchInput,
} from '../../schemas/catalog.js';
import type { VersionCondition } from '../../utils/etag.js';
import type { DomainContext } from '../context.js';
import { invalidateProduct, invalidateProductStock } from './catalog-cache.js';
import { toProduct } from './product-mapper.js';

/** A write's result and the cache invalidation to run once its transaction has committed. */
export interface CatalogWrite<T> {
  result: T;
  /**
   * Must run after commit: bumping the cache generations earlier would let a reader cache the
   * pre-commit row under the new generation.
   */
  afterCommit: () => Promise<void>;
}

/** Admin writes to the catalog. Each runs inside the invocation's transaction. */
export class ProductAdminService {
  private readonly products: ProductRepository;
  private readonly inventory: InventoryRepository;

  constructor(private readonly ctx: DomainContext) {
    this.products = new ProductRepository(ctx);
    this.inventory = new InventoryRepository(ctx);
  }

  async create(input: ProductCreateInput): Promise<CatalogWrite<ProductBody>> {
    const row = await this.products.insert({ ...input, description: input.description ?? '' });
    if (!row) throw new ConflictException('A product with this SKU already exists (archived ones included).');
    return { result: toProduct(row), afterCommit: this.invalidate(row.id) };
  }

  /**
   * Applies the patch; with a version condition (`If-Match`) only to a product still at one of those
   * versions, checked by the UPDATE itself. A missing product is a 404 whatever the condition (RFC 9110
   * §13.2.1: preconditions are ignored when the request would fail without them).
   */
  async update(
    productId: string,
    patch: ProductPatchInput,
    condition?: VersionCondition,
  ): Promise<CatalogWrite<ProductBody>> {
    const versions = condition?.kind === 'versions' ? condition.versions : undefined;
    const row = await this.products.update(productId, patch, versions);
    if (!row) {
      // Only the failure path reads again, to tell "gone" from "changed since it was read".
      if (versions && (await this.products.existsActive(productId))) {
        throw new PreconditionFailedException(
          'The product has changed since it was read (its ETag is no longer current); nothing was ' +
            'changed. Read it again and reapply the edit.',
        );
      }
      throw new ProductNotFoundException();
    }
    return { result: toProduct(row), afterCommit: this.invalidate(productId) };
  }

  async archive(productId: string): Promise<CatalogWrite<void>> {
    if (!(await this.products.archive(productId))) throw new ProductNotFoundException();
    return { result: undefined, afterCommit: this.invalidate(productId) };
  }

  async setInventory(productId: string, quantity: number): Promise<CatalogWrite<InventoryBody>> {
    const row = await this.inventory.setAvailable(productId, quantity);
    if (!row) throw new ProductNotFoundException();
    const reserved = Number(row.reserved);
    await new AuditOutboxWriter(this.ctx).record({
      entity: 'stock',
      entityId: productId,
      action: 'set',
      payload: {
        before: { available: row.before_available, reserved, onHand: row.before_available + reserved },
        after: { available: Number(row.available), reserved, onHand: Number(row.available) + reserved },
      },
    });
    const { tenantId, log } = this.ctx;
    return {
      result: {
        productId: row.product_id,
        available: Number(row.available),
        reserved: Number(row.reserved),
        sold: Number(row.sold),
      },
      afterCommit: async () => {
        nudgeAuditRelay(log);
        await invalidateProductStock(tenantId, [productId], log);
      },
    };
  }

  private invalidate(productId: string): () => Promise<void> {
    const { tenantId, log } = this.ctx;
    return () => invalidateProduct(tenantId, productId, log);
  }
}
