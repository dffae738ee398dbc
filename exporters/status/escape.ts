// Output escaping. Incident names and updates are user input: everything that reaches HTML, XML
// or SVG text or attributes goes through these.

const HTML: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML/XML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML[c]!);
}

/**
 * Escapes text for XML 1.0 (feeds, SVG): the five entities, and characters XML cannot carry at all
 * (C0 controls other than tab, newline, carriage return; lone surrogates; U+FFFE/U+FFFF) dropped.
 */
export function escapeXml(text: string): string {
  return escapeHtml(text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, ''));
}
