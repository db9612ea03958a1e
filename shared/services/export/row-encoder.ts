import { Transform, type TransformCallback } from 'node:stream';
import type { FieldCipher } from '../../crypto/field-cipher.js';
import { encodeRow } from './csv.js';
import { EXPORT_COLUMNS, type ExportRow } from './export-query.js';

interface Customer {
  email: string;
  name: string;
  address: string | null;
}

const CACHE_LIMIT = 50_000;

/**
 * Rows → CSV text. Customers repeat across orders, so each customer's PII is decrypted once and kept in
 * a bounded map (Fernet per row would dominate the export's CPU time).
 */
export class CsvRowEncoder extends Transform {
  rows = 0;
  bytes = 0;
  private pending = '';
  private readonly customers = new Map<string, Customer>();

  constructor(
    private readonly cipher: FieldCipher,
    private readonly onProgress: (rows: number, bytes: number) => void,
  ) {
    super({ writableObjectMode: true, readableObjectMode: false, writableHighWaterMark: 1000 });
    this.emitChunk(encodeRow(EXPORT_COLUMNS));
  }

  override _transform(row: ExportRow, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      const customer = this.customer(row);
      this.rows++;
      this.emitChunk(
        encodeRow([
          row.id,
          row.created_at.toISOString(),
          row.status,
          row.user_id,
          customer.email,
          customer.name,
          customer.address,
          Number(row.item_count ?? 0),
          Number(row.subtotal ?? 0),
          Number(row.total_cents),
          row.currency.trim(),
          row.payment_intent_id,
        ]),
      );
      if (this.rows % 5000 === 0) this.onProgress(this.rows, this.bytes);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    this.pushPending();
    this.onProgress(this.rows, this.bytes);
    callback();
  }

  /** Rows are batched into ~64 KiB chunks: one push per row would cost more than the encoding. */
  private emitChunk(text: string): void {
    this.pending += text;
    if (this.pending.length >= 64 * 1024) this.pushPending();
  }

  private pushPending(): void {
    if (this.pending === '') return;
    const chunk = Buffer.from(this.pending, 'utf8');
    this.pending = '';
    this.bytes += chunk.length;
    this.push(chunk);
  }

  private customer(row: ExportRow): Customer {
    let customer = this.customers.get(row.user_id);
    if (!customer) {
      customer = {
        email: this.cipher.decrypt(row.email_enc),
        name: row.name,
        address: this.cipher.decrypt(row.address_enc),
      };
      if (this.customers.size >= CACHE_LIMIT) this.customers.clear();
      this.customers.set(row.user_id, customer);
    }
    return customer;
  }
}
