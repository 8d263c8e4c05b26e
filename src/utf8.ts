/** UTF-8 sizes of strings, counted without encoding them. */

const NON_ASCII = /[^\x00-\x7f]/;

/** Node's native count (a tenth of the time of the expression below on a frame of ASCII), where there is one. */
const byteLength = (globalThis as { Buffer?: { byteLength(text: string, encoding: 'utf8'): number } }).Buffer?.byteLength;

/** The UTF-8 size of `text`: its length when it is ASCII, else counted (a lone surrogate as 3 bytes, as its replacement). */
export function utf8Length(text: string): number {
  if (byteLength !== undefined) return byteLength(text, 'utf8');
  if (!NON_ASCII.test(text)) return text.length;
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2;
      i++;
    } else bytes += 2;
  }
  return bytes;
}
