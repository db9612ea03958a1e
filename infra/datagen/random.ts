/**
 * Seeded pseudo-random numbers for the data generators: the same seed gives the same catalog, so a
 * benchmark run can be repeated and its search terms chosen ahead of time.
 */
export type Random = () => number;

/** mulberry32: tiny, fast, and good enough for synthetic text (not for anything secret). */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomInt(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** A version-4-shaped UUID from the seeded source (reproducible ids; unique with overwhelming odds). */
export function seededUuid(random: Random): string {
  const hex: string[] = [];
  for (let i = 0; i < 4; i++) hex.push(((random() * 0x100000000) >>> 0).toString(16).padStart(8, '0'));
  const s = hex.join('');
  const variant = ((parseInt(s[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-4${s.slice(13, 16)}-${variant}${s.slice(17, 20)}-${s.slice(20, 32)}`;
}
