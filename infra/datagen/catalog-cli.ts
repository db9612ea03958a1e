import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { Progress } from '../../tests/bench/progress.js';
import { generateCatalog } from './catalog.js';

const USAGE = `usage: node dist/infra/datagen/catalog-cli.js --url postgres://… [options]

  --url <postgres url>     target database (default: $DATABASE_URL); it must be migrated
  --tenant <uuid>          tenant to fill (created when missing; default: a new one)
  --rows <n>               products (default 100000; 1000000 takes a few minutes)
  --reviews <avg>          average reviews per product (default 0.5)
  --customers <n>          reviewers (default rows/10, 100..50000)
  --vocabulary <n>         distinct words (default 5000)
  --words <n>              words per description (default 40)
  --seed <n>               random seed (default fixed: the same catalog every time)
  --rebuild-indexes <auto|yes|no>   drop + rebuild secondary indexes around the load (default auto)`;

function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      tenant: { type: 'string' },
      rows: { type: 'string' },
      reviews: { type: 'string' },
      customers: { type: 'string' },
      vocabulary: { type: 'string' },
      words: { type: 'string' },
      seed: { type: 'string' },
      'rebuild-indexes': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const databaseUrl = values.url ?? process.env.DATABASE_URL;
  if (!databaseUrl) throw new Error('--url (or DATABASE_URL) is required\n' + USAGE);
  const rows = positiveInt(values.rows, 'rows', 100_000);
  const rebuildArg = values['rebuild-indexes'] ?? 'auto';
  if (!['auto', 'yes', 'no'].includes(rebuildArg)) throw new Error('--rebuild-indexes must be auto|yes|no');
  const reviews = values.reviews === undefined ? 0.5 : Number(values.reviews);
  if (!Number.isFinite(reviews) || reviews < 0) throw new Error('--reviews must be a non-negative number');
  const tenantId = values.tenant ?? randomUUID();

  const progress = new Progress('products', rows);
  const result = await generateCatalog({
    databaseUrl,
    tenantId,
    products: rows,
    reviewsPerProduct: reviews,
    ...(values.customers !== undefined ? { customers: positiveInt(values.customers, 'customers', 0) } : {}),
    vocabularySize: positiveInt(values.vocabulary, 'vocabulary', 5_000),
    descriptionWords: positiveInt(values.words, 'words', 40),
    seed: positiveInt(values.seed, 'seed', 20_261_126),
    rebuildIndexes: rebuildArg === 'auto' ? 'auto' : rebuildArg === 'yes',
    onProgress: (done) => progress.tick(done),
    onPhase: (phase) => process.stderr.write(`${phase}…\n`),
  });
  const common = result.vocabulary
    .slice(0, 3)
    .map((w) => `${w.word} (${(100 * w.descriptionFrequency).toFixed(0)}%)`);
  console.log(
    JSON.stringify(
      {
        tenantId,
        products: result.products,
        archived: result.archived,
        reviews: result.reviews,
        customers: result.customers,
        seconds: Math.round(result.seconds),
        mostCommonWords: common,
      },
      null,
      2,
    ),
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
