/**
 * Answers as Markdown, safe against what a model may write: markdown-it
 * with raw HTML off escapes every tag (a `<script>` in an answer is shown as
 * text), its link check drops `javascript:` and other script URLs, images are
 * off (nothing is fetched because an answer names it), and links open in a
 * new tab that gets neither this page nor its address.
 */
import type { MarkdownIt, MarkdownItOptions } from 'markdown-it';

/** markdown-it's entry point: the package's default export. */
export type MarkdownItFactory = (options: MarkdownItOptions) => MarkdownIt;

/** A function from Markdown source to the HTML to show for it. */
export function markdownRenderer(markdownit: MarkdownItFactory): (source: string) => string {
  const markdown = markdownit({ html: false, linkify: true, breaks: true });
  markdown.disable('image');
  const openLink = markdown.renderer.rules.link_open;
  markdown.renderer.rules.link_open = (tokens, index, options, env, renderer) => {
    tokens[index]!.attrSet('target', '_blank');
    tokens[index]!.attrSet('rel', 'noopener noreferrer');
    return openLink ? openLink(tokens, index, options, env, renderer) : renderer.renderToken(tokens, index, options);
  };
  return (source) => markdown.render(source);
}
