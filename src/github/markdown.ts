/**
 * Text from a PR (service names, titles, branch names, error output that quotes them) reaches the comment and
 * the job summary only through these functions, so it cannot add links, images, mentions, HTML or table cells.
 */

/** Inline text: markdown and HTML metacharacters escaped, line breaks flattened, mentions and autolinks defused. */
export function mdText(text: string): string {
  return (
    escapeInline(text)
      // GitHub links `www.x.y` and `scheme://...` in plain text; `www.evil.com` is a valid compose service name.
      .replace(/(www)\./gi, '$1\u200d.')
      .replace(/:\/\//g, ':\u200d//')
  );
}

/** The text of a link is no autolink: it keeps its `://` as is. */
function escapeInline(text: string): string {
  return (
    text
      .replace(/[\r\n]+/g, ' ')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/[\\`*_{}[\]()#+!|~]/g, (c) => `\\${c}`)
      // A zero-width joiner after @ keeps GitHub from notifying the named user or team.
      .replace(/@/g, '@\u200d')
  );
}

/** A fenced block that no backtick run inside the text can close. */
export function codeBlock(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}text\n${text.replace(/\n+$/, '')}\n${fence}`;
}

/** The last `n` lines of a text, capped in characters (a comment holds at most 65536). */
export function tail(text: string, n: number, maxChars = 20_000): string {
  const lines = text.replace(/\n+$/, '').split('\n');
  const kept = lines.slice(-n).join('\n');
  return kept.length > maxChars ? `…${kept.slice(-maxChars)}` : kept;
}

/** An https link only: a URL from elsewhere (a template) could be `javascript:`. */
export function mdLink(url: string, label = url): string {
  try {
    const u = new URL(url);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return mdText(url);
    // The text as given (URL's toString would add a trailing slash), with what ends a link target encoded.
    return `[${escapeInline(label)}](${url.replace(/[()\s<>]/g, encodeURIComponent)})`;
  } catch {
    return mdText(url);
  }
}
