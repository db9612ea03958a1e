import pg from 'pg';
import { copyInto, copyLine } from './copy-text.js';
import { randomInt, seededRandom, seededUuid, type Random } from './random.js';
import { candidateWords, ZipfSampler } from './vocabulary.js';

export interface CatalogDataOptions {
  databaseUrl: string;
  /** Created when missing (slug derived from the id). */
  tenantId: string;
  products: number;
  /** Average reviews per product (geometric spread; each by a different customer). */
  reviewsPerProduct?: number;
  /** Reviewers (user rows); a product never gets more reviews than this. */
  customers?: number;
  vocabularySize?: number;
  descriptionWords?: number;
  /** Zipf exponent of word frequencies (1 = classic Zipf). */
  zipfExponent?: number;
  /** Share of products created archived (they must vanish from lists and search). */
  archivedShare?: number;
  seed?: number;
  /**
   * Seed of the vocabulary alone: catalogs generated with different `seed`s but the same vocabulary
   * seed share their words (and word frequencies), so the same search terms fit both.
   */
  vocabularySeed?: number;
  /** created_at of the products spreads evenly over [start, end]. */
  start?: Date;
  end?: Date;
  /**
   * Drop the secondary indexes of products/inventory/reviews before loading and build them afterwards
   * (several times faster for big loads). `auto`: only when the products table is empty.
   */
  rebuildIndexes?: boolean | 'auto';
  onProgress?: (done: number, total: number) => void;
  /** Reports phases that have no row count (vocabulary, index builds, analyze). */
  onPhase?: (phase: string) => void;
}

export interface VocabularyWord {
  word: string;
  /** The lexeme PostgreSQL's english configuration stores for the word. */
  lexeme: string;
  /** Share of all generated words that are this word. */
  probability: number;
  /** Expected share of descriptions containing the word. */
  descriptionFrequency: number;
}

export interface CatalogDataResult {
  vocabulary: VocabularyWord[];
  products: number;
  archived: number;
  reviews: number;
  customers: number;
  seconds: number;
}

const BATCH = 10_000;
const RATINGS = [5, 5, 5, 5, 4, 4, 4, 3, 3, 2, 1];
const FIRST_NAMES = ['Ada', 'Bo', 'Chen', 'Dana', 'Emil', 'Fatima', 'Gus', 'Hana', 'Ivan', 'Jules', 'Kofi'];
const CURRENCY = 'USD';

/**
 * Keeps words the English configuration indexes as exactly one lexeme of their own (no stop words, no
 * two words stemming alike), in rank order, up to `size`.
 */
async function buildVocabulary(client: pg.ClientBase, random: Random, size: number): Promise<string[][]> {
  const candidates = candidateWords(random, size);
  const { rows } = await client.query<{ word: string; lexemes: string[] }>(
    `select w as word, tsvector_to_array(to_tsvector('english', w)) as lexemes
       from unnest($1::text[]) with ordinality as t(w, n) order by n`,
    [candidates],
  );
  const seen = new Set<string>();
  const kept: string[][] = [];
  for (const row of rows) {
    if (row.lexemes.length !== 1) continue;
    const lexeme = row.lexemes[0]!;
    if (seen.has(lexeme)) continue;
    seen.add(lexeme);
    kept.push([row.word, lexeme]);
    if (kept.length === size) break;
  }
  if (kept.length < size) throw new Error(`vocabulary: only ${kept.length} distinct lexemes`);
  return kept;
}

/**
 * The vocabulary a catalog generated with this vocabulary seed uses, most frequent first, with each
 * word's expected share of descriptions (benchmarks pick their search terms from it).
 */
export async function catalogVocabulary(
  databaseUrl: string,
  options: {
    vocabularySize?: number;
    vocabularySeed?: number;
    descriptionWords?: number;
    zipfExponent?: number;
  } = {},
): Promise<VocabularyWord[]> {
  const size = options.vocabularySize ?? 5_000;
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const vocab = await buildVocabulary(client, seededRandom(options.vocabularySeed ?? 5_000), size);
    return describeVocabulary(
      vocab,
      new ZipfSampler(size, options.zipfExponent ?? 1),
      options.descriptionWords ?? 40,
    );
  } finally {
    await client.end();
  }
}

function describeVocabulary(
  vocab: string[][],
  sampler: ZipfSampler,
  wordsPerDocument: number,
): VocabularyWord[] {
  return vocab.map(([word, lexeme], r) => ({
    word: word!,
    lexeme: lexeme!,
    probability: sampler.probabilities[r]!,
    descriptionFrequency: sampler.documentFrequency(r, wordsPerDocument),
  }));
}

function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

interface IndexDef {
  name: string;
  definition: string;
}

/** Secondary (non-constraint) indexes of the tables we load; rebuilt in bulk after the COPY. */
async function secondaryIndexes(client: pg.ClientBase): Promise<IndexDef[]> {
  const { rows } = await client.query<IndexDef>(
    `select i.relname as name, pg_get_indexdef(x.indexrelid) as definition
       from pg_index x
       join pg_class i on i.oid = x.indexrelid
       join pg_class t on t.oid = x.indrelid
       join pg_namespace ns on ns.oid = t.relnamespace
      where ns.nspname = current_schema()
        and t.relname in ('products', 'inventory', 'reviews')
        and not exists (select 1 from pg_constraint c where c.conindid = x.indexrelid)`,
  );
  return rows;
}

/**
 * Generates a catalog for benchmarks and demos: products whose names and descriptions are drawn from a
 * Zipf-distributed vocabulary (so a few words are in half the catalog and most are rare, as in real
 * text), one inventory row each, customers and their reviews with the products' rating summaries kept
 * consistent. Everything goes in with COPY; 1M products take a few minutes on two cores.
 */
export async function generateCatalog(options: CatalogDataOptions): Promise<CatalogDataResult> {
  const started = Date.now();
  const random = seededRandom(options.seed ?? 20_261_126);
  const vocabularySize = options.vocabularySize ?? 5_000;
  const descriptionWords = options.descriptionWords ?? 40;
  const reviewsPerProduct = options.reviewsPerProduct ?? 0.5;
  const customers = Math.max(1, options.customers ?? Math.min(50_000, Math.max(100, options.products / 10)));
  const archivedShare = options.archivedShare ?? 0.01;
  const end = (options.end ?? new Date()).getTime();
  const start = (options.start ?? new Date(end - 365 * 24 * 3600 * 1000)).getTime();
  const total = options.products;

  const client = new pg.Client({ connectionString: options.databaseUrl });
  await client.connect();
  let dropped: IndexDef[] = [];
  try {
    // Bulk load: durability of each batch's commit is not needed (a crash means "generate again").
    await client.query(`set synchronous_commit = off`);
    await client.query(`set maintenance_work_mem = '512MB'`);
    await client.query(
      `insert into tenants (id, slug, name) values ($1, $2, $3) on conflict (id) do nothing`,
      [options.tenantId, `gen-${options.tenantId.toLowerCase()}`, 'Generated catalog'],
    );

    options.onPhase?.('vocabulary');
    const vocab = await buildVocabulary(
      client,
      seededRandom(options.vocabularySeed ?? 5_000),
      vocabularySize,
    );
    const words = vocab.map(([w]) => w!);
    const sampler = new ZipfSampler(vocabularySize, options.zipfExponent ?? 1);

    options.onPhase?.('customers');
    const customerIds: string[] = [];
    const customerLines: string[] = [];
    for (let i = 0; i < customers; i++) {
      const id = seededUuid(random);
      customerIds.push(id);
      const name = `${FIRST_NAMES[i % FIRST_NAMES.length]!} ${capitalize(words[sampler.sample(random)]!)}`;
      customerLines.push(
        copyLine([id, options.tenantId, 'datagen-not-encrypted', `datagen-${id}`, name, 'datagen-no-login']),
      );
    }
    await copyInto(
      client,
      'copy users (id, tenant_id, email_enc, email_bidx, name, password_hash) from stdin',
      customerLines,
    );

    const { rows: existing } = await client.query<{ any: boolean }>(
      'select exists (select 1 from products) as any',
    );
    const rebuild =
      options.rebuildIndexes === 'auto' || options.rebuildIndexes === undefined
        ? !existing[0]!.any
        : options.rebuildIndexes;
    if (rebuild) {
      dropped = await secondaryIndexes(client);
      for (const index of dropped) await client.query(`drop index if exists "${index.name}"`);
    }

    const wordAt = (): string => words[sampler.sample(random)]!;
    // Geometric review counts with mean reviewsPerProduct: P(k) = (1 - q) q^k, q = m / (1 + m).
    const geometricRatio = reviewsPerProduct / (1 + reviewsPerProduct);
    let archived = 0;
    let reviews = 0;
    for (let offset = 0; offset < total; offset += BATCH) {
      const count = Math.min(BATCH, total - offset);
      const products: string[] = [];
      const inventory: string[] = [];
      const reviewLines: string[] = [];
      for (let k = 0; k < count; k++) {
        const n = offset + k;
        const id = seededUuid(random);
        const createdMs = start + Math.floor(((end - start) * n) / Math.max(1, total - 1));
        const createdAt = new Date(createdMs).toISOString();
        const nameWords = randomInt(random, 2, 4);
        const name: string[] = [];
        for (let w = 0; w < nameWords; w++) name.push(capitalize(wordAt()));
        let description = '';
        let sentence = 0;
        for (let w = 0; w < descriptionWords; w++) {
          const word = wordAt();
          description += sentence === 0 ? (w === 0 ? '' : ' ') + capitalize(word) : ' ' + word;
          sentence++;
          if (sentence >= 8 && (random() < 0.25 || w === descriptionWords - 1)) {
            description += '.';
            sentence = 0;
          } else if (random() < 0.05) description += ',';
        }
        if (!description.endsWith('.')) description += '.';
        const price = Math.round(Math.exp(2 + random() * 8)) * 10 + 9;

        // Reviews: geometric count, distinct customers, the summary kept on the product row.
        const reviewCount =
          reviewsPerProduct > 0
            ? Math.min(customers, Math.floor(Math.log(1 - random()) / Math.log(geometricRatio)))
            : 0;
        const reviewers = new Set<number>();
        let ratingSum = 0;
        while (reviewers.size < reviewCount) reviewers.add(Math.floor(random() * customers));
        for (const reviewer of reviewers) {
          const rating = RATINGS[Math.floor(random() * RATINGS.length)]!;
          ratingSum += rating;
          const reviewedAt = new Date(createdMs + Math.floor(random() * (end - createdMs + 1))).toISOString();
          reviewLines.push(
            copyLine([
              seededUuid(random),
              options.tenantId,
              id,
              customerIds[reviewer]!,
              rating,
              `${capitalize(wordAt())} ${wordAt()} ${wordAt()}`,
              `${capitalize(wordAt())} ${wordAt()} ${wordAt()} ${wordAt()} ${wordAt()} ${wordAt()} ${wordAt()}.`,
              reviewedAt,
            ]),
          );
        }
        reviews += reviewers.size;
        const status = random() < archivedShare ? 'archived' : 'active';
        if (status === 'archived') archived++;
        products.push(
          copyLine([
            id,
            options.tenantId,
            `GEN-${n}`,
            name.join(' '),
            description,
            price,
            CURRENCY,
            status,
            reviewers.size,
            ratingSum,
            createdAt,
            createdAt,
          ]),
        );
        inventory.push(copyLine([id, options.tenantId, randomInt(random, 0, 500), createdAt, createdAt]));
      }
      await copyInto(
        client,
        `copy products (id, tenant_id, sku, name, description, price_cents, currency, status, rating_count,
           rating_sum, created_at, updated_at) from stdin`,
        products,
      );
      await copyInto(
        client,
        'copy inventory (product_id, tenant_id, available, created_at, updated_at) from stdin',
        inventory,
      );
      if (reviewLines.length > 0)
        await copyInto(
          client,
          'copy reviews (id, tenant_id, product_id, user_id, rating, title, body, created_at) from stdin',
          reviewLines,
        );
      options.onProgress?.(offset + count, total);
    }

    if (rebuild) {
      for (const index of dropped) {
        options.onPhase?.(`index ${index.name}`);
        await client.query(index.definition);
      }
      dropped = [];
    }
    options.onPhase?.('vacuum analyze');
    // Fresh statistics matter: the search plan is chosen from the tsvector's most-common-lexeme stats.
    await client.query('vacuum (analyze) products, inventory, reviews, users');

    return {
      vocabulary: describeVocabulary(vocab, sampler, descriptionWords),
      products: total,
      archived,
      reviews,
      customers,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    // An interrupted load must not leave the schema without its indexes.
    for (const index of dropped) {
      await client
        .query(index.definition.replace(/^CREATE INDEX /, 'CREATE INDEX IF NOT EXISTS '))
        .catch(() => undefined);
    }
    await client.end();
  }
}
