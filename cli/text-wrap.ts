/**
 * Word wrapping for the terminal, shared by the help text and the
 * side-by-side comparison.
 *
 * @packageDocumentation
 */

/**
 * Width in terminal columns, counted in code points: right for the Latin,
 * Greek and Cyrillic text small models write, too narrow for CJK and emoji.
 */
export function displayWidth(text: string): number {
  return Array.from(text).length;
}

/** Splits one paragraph into lines of at most `width` columns, breaking at spaces and, for overlong words, anywhere. */
function wrapParagraph(paragraph: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  const flush = (): void => {
    lines.push(line.trimEnd());
    line = '';
  };
  for (const piece of paragraph.match(/\s+|\S+/g) ?? []) {
    if (/^\s/.test(piece)) {
      // Spaces that do not fit end the line instead of starting the next one.
      if (displayWidth(line) + displayWidth(piece) < width) line += piece;
      else flush();
      continue;
    }
    if (displayWidth(line) + displayWidth(piece) > width && line.trim() !== '') flush();
    let rest = Array.from(piece);
    while (displayWidth(line) + rest.length > width) {
      const room = width - displayWidth(line);
      line += rest.slice(0, room).join('');
      rest = rest.slice(room);
      flush();
    }
    line += rest.join('');
  }
  lines.push(line.trimEnd());
  return lines;
}

/**
 * Word-wraps `text` to lines of at most `width` columns, keeping its line
 * breaks, blank lines and leading indentation.
 */
export function wrapText(text: string, width: number): string[] {
  const paragraphs = text.replace(/\t/g, '    ').trimEnd().split(/\r?\n/);
  return paragraphs.flatMap((paragraph) => wrapParagraph(paragraph, Math.max(1, width)));
}
