/** Non-negative integers written as ASCII decimal digits straight into a buffer, with no string made for them. */

/** How many decimal digits `n` (a non-negative safe integer) takes. */
export function decimalDigits(n: number): number {
  let digits = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    digits++;
  }
  return digits;
}

/** The bytes `writeDecimal` writes for `n`. */
export function decimalLength(n: number): number {
  return Number.isSafeInteger(n) && n >= 0 ? decimalDigits(n) : JSON.stringify(n).length;
}

/**
 * Writes `n` at `offset` as JSON would (`String(n)`), and returns the offset after it. A
 * non-negative safe integer is written digit by digit; anything else through its string.
 */
export function writeDecimal(buffer: Buffer, offset: number, n: number): number {
  if (!(Number.isSafeInteger(n) && n >= 0)) return offset + buffer.write(JSON.stringify(n), offset, 'latin1');
  const end = offset + decimalDigits(n);
  for (let at = end - 1; at >= offset; at--) {
    const next = Math.floor(n / 10);
    buffer[at] = 0x30 + (n - next * 10);
    n = next;
  }
  return end;
}
