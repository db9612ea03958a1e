import { Writable } from 'node:stream';
import type { FieldCipher } from '../../crypto/field-cipher.js';
import type { ShippingAddressValue } from '../../schemas/address.js';
import type { BlockUpload } from './block-upload.js';
import { encodeRow } from './csv.js';
import { EXPORT_COLUMNS, type ExportRow } from './export-query.js';

interface Customer {
  email: string;
  name: string;
  address: string | null;
}

const CACHE_LIMIT = 50_000;
const PROGRESS_EVERY = 5000;

/**
 * Rows → CSV, written straight into the upload's block buffers. A Writable (not a Transform): the
 * text has no intermediate chunks to allocate and queue, and `write` waits while every block buffer
 * is staging, which stops the cursor from fetching more rows.
 *
 * Customers repeat across orders, so each customer's PII is decrypted once and kept in a bounded map
 * (Fernet per row would dominate the export's CPU time).
 */
export class CsvRowEncoder extends Writable {
  rows = 0;
  private readonly customers = new Map<string, Customer>();

  constructor(
    private readonly cipher: FieldCipher,
    private readonly upload: BlockUpload,
    private readonly onProgress: (rows: number, bytes: number) => void,
  ) {
    // A small queue: the cursor's own batch is the read-ahead.
    super({ objectMode: true, highWaterMark: 256 });
  }

  get bytes(): number {
    return this.upload.bytes;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    this.settle(this.upload.append(encodeRow(EXPORT_COLUMNS)), callback);
  }

  override _write(row: ExportRow, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    let line: string;
    try {
      line = this.encode(row);
    } catch (error) {
      callback(error as Error);
      return;
    }
    this.rows++;
    const wait = this.upload.append(line);
    if (this.rows % PROGRESS_EVERY === 0) this.onProgress(this.rows, this.upload.bytes);
    this.settle(wait, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.onProgress(this.rows, this.upload.bytes);
    callback();
  }

  private settle(wait: Promise<void> | undefined, callback: (error?: Error | null) => void): void {
    if (!wait) {
      callback();
      return;
    }
    wait.then(
      () => callback(),
      (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
    );
  }

  private encode(row: ExportRow): string {
    const [id, createdAt, status, userId, emailEnc, name, addressEnc, itemCount, subtotal, total] = row;
    const customer = this.customer(userId, emailEnc, name, addressEnc);
    return encodeRow([
      id,
      createdAt,
      status,
      userId,
      customer.email,
      customer.name,
      customer.address,
      Number(itemCount ?? 0),
      Number(subtotal ?? 0),
      Number(total),
      row[10].trim(),
      row[11],
      this.address(row[12]),
    ]);
  }

  /** One line, "name, line1, line2, postal code city, region, country": per order, so never cached. */
  private address(token: string | null): string | null {
    if (token === null) return null;
    const a = JSON.parse(this.cipher.decrypt(token)) as ShippingAddressValue;
    const town = [a.postalCode, a.city].join(' ');
    return [a.name, a.line1, a.line2, town, a.region, a.country].filter((part) => part).join(', ');
  }

  private customer(userId: string, emailEnc: string, name: string, addressEnc: string | null): Customer {
    let customer = this.customers.get(userId);
    if (!customer) {
      customer = { email: this.cipher.decrypt(emailEnc), name, address: this.cipher.decrypt(addressEnc) };
      if (this.customers.size >= CACHE_LIMIT) this.customers.clear();
      this.customers.set(userId, customer);
    }
    return customer;
  }
}
