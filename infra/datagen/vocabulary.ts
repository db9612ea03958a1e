import { randomInt, type Random } from './random.js';

/**
 * Real product-ish words take the most frequent ranks, so generated text reads like a catalog and demo
 * searches ("coffee", "ceramic kettle") behave sensibly; synthetic words fill the long tail.
 */
const HEAD_WORDS = `
premium classic handmade organic vintage modern compact portable durable lightweight
coffee tea ceramic steel wooden glass cotton leather bamboo linen
kettle mug grinder filter teapot bottle jar bowl plate cup
kitchen travel outdoor garden office home studio camping picnic bakery
black white green blue red grey natural walnut copper brass
large small set pack pair collection edition series bundle kit
sturdy elegant rustic minimalist colorful insulated reusable adjustable foldable waterproof
espresso latte cappuccino brewer press dripper carafe thermos tumbler pitcher
chair table lamp shelf basket blanket pillow towel apron napkin
spoon knife fork ladle whisk spatula tongs board tray rack
gift holiday summer winter spring autumn weekend morning evening daily
soft smooth crisp warm fresh bright quiet gentle bold rich
handcrafted artisan imported local sustainable recycled certified tested approved guaranteed
stainless enamel porcelain stoneware cast iron silicone marble granite oak
nordic japanese italian french british mexican indian korean spanish greek
`
  .split(/\s+/)
  .filter((w) => w.length > 0);

const ONSETS = ['b', 'br', 'c', 'ch', 'd', 'dr', 'f', 'g', 'gr', 'h', 'j', 'k', 'l', 'm', 'n', 'p', 'pl'];
const ONSETS2 = ['qu', 'r', 's', 'sh', 'st', 't', 'tr', 'v', 'w', 'z', 'sk', 'th', 'fl', 'cr', 'bl', 'gl'];
const NUCLEI = ['a', 'e', 'i', 'o', 'u', 'ai', 'ea', 'io', 'ou', 'y'];
const CODAS = ['', '', '', 'n', 'r', 'l', 'm', 'x', 'k', 't', 'nd', 'rk', 'lt', 'sp'];
const ALL_ONSETS = [...ONSETS, ...ONSETS2];

function synthesize(random: Random): string {
  const syllables = randomInt(random, 2, 4);
  let word = '';
  for (let i = 0; i < syllables; i++) {
    word += ALL_ONSETS[Math.floor(random() * ALL_ONSETS.length)]!;
    word += NUCLEI[Math.floor(random() * NUCLEI.length)]!;
    if (i === syllables - 1 || random() < 0.3) word += CODAS[Math.floor(random() * CODAS.length)]!;
  }
  return word;
}

/**
 * Candidate words in rank order (most frequent first), more than needed: the caller drops words that
 * the English text-search configuration treats as stop words or stems onto an earlier word, so every
 * vocabulary entry is its own lexeme and word frequencies are what the Zipf law says.
 */
export function candidateWords(random: Random, size: number): string[] {
  const seen = new Set<string>();
  const words: string[] = [];
  for (const word of HEAD_WORDS) {
    if (!seen.has(word)) {
      seen.add(word);
      words.push(word);
    }
  }
  while (words.length < size * 1.3 + 100) {
    const word = synthesize(random);
    if (word.length >= 4 && word.length <= 14 && !seen.has(word)) {
      seen.add(word);
      words.push(word);
    }
  }
  return words;
}

/**
 * Samples word ranks with P(rank r) ∝ 1 / r^s (Zipf). A cumulative table and a binary search: about
 * 13 comparisons per word for 5,000 words, fast enough for 40M words.
 */
export class ZipfSampler {
  private readonly cdf: Float64Array;
  /** Probability of each rank (a word's share of all generated words). */
  readonly probabilities: Float64Array;

  constructor(
    readonly size: number,
    exponent = 1,
  ) {
    const weights = new Float64Array(size);
    let total = 0;
    for (let r = 0; r < size; r++) {
      weights[r] = 1 / Math.pow(r + 1, exponent);
      total += weights[r]!;
    }
    this.cdf = new Float64Array(size);
    this.probabilities = new Float64Array(size);
    let running = 0;
    for (let r = 0; r < size; r++) {
      this.probabilities[r] = weights[r]! / total;
      running += this.probabilities[r]!;
      this.cdf[r] = running;
    }
    this.cdf[size - 1] = 1;
  }

  sample(random: Random): number {
    const u = random();
    let lo = 0;
    let hi = this.size - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Expected share of documents of `wordsPerDocument` words that contain rank `r` at least once. */
  documentFrequency(r: number, wordsPerDocument: number): number {
    return 1 - Math.pow(1 - this.probabilities[r]!, wordsPerDocument);
  }
}
