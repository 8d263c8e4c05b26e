/** Error messages for stderr, one line each (OpenSSL's run over two). */
/**
 * `message` on one line: an OpenSSL error string (`…:error:0A00010B:SSL
 * routines:ssl3_get_record:wrong version number:file.c:350:` and a newline)
 * becomes `TLS error: wrong version number`, and any other line break a space.
 */
export function oneLine(message: string): string {
  const tls = message.replace(/[\w ]*?[0-9A-F]{8,}:error:[0-9A-F]+:SSL routines:[^:]*:([^:\n]+):[^\n]*\n?/g, 'TLS error: $1');
  return tls.replace(/\s*\n\s*/g, ' ').trim();
}
