import { Migration } from '@mikro-orm/migrations';

/**
 * Refund source `backstop` (issue #17): the money the checkout's own backstop gives back — a payment
 * that succeeded for an order that was closed, cancelled or had the wrong amount, refunded by the
 * saga's compensation, the sweeper or the reconciliation. Those refunds carry `metadata.origin =
 * backstop` at Stripe; before this they were booked as `stripe`, which the order desk shows as a refund
 * made in the Stripe dashboard.
 *
 * The check is replaced in place; existing rows all satisfy the wider list.
 */
export class Migration0010RefundSourceBackstop extends Migration {
  override up(): void {
    this.addSql(`
alter table refunds drop constraint refunds_source_check,
  add constraint refunds_source_check check (source in ('admin', 'cancel', 'stripe', 'backstop'));
`);
  }

  override down(): void {
    this.addSql(`
update refunds set source = 'stripe' where source = 'backstop';
alter table refunds drop constraint refunds_source_check,
  add constraint refunds_source_check check (source in ('admin', 'cancel', 'stripe'));
`);
  }
}
