/**
 * What the playground shows of an answer, without a browser: its Markdown
 * renderer turns whatever HTML a model writes into text and keeps script
 * URLs and images out, and the token view's marks follow the trace.
 */
import markdownit from 'markdown-it';
import { markdownRenderer } from '../../playground/markdown';
import { percent, traceMark, visibleText, type TokenTrace } from '../../playground/trace-format';

const render = markdownRenderer(markdownit);

describe('the playground Markdown renderer', () => {
  it('renders Markdown', () => {
    expect(render('**bold** and `code`')).toBe('<p><strong>bold</strong> and <code>code</code></p>\n');
    expect(render('```\nx < 1\n```')).toBe('<pre><code>x &lt; 1\n</code></pre>\n');
    expect(render('- a\n- b')).toContain('<li>a</li>');
  });

  it.each([
    '<script>alert(1)</script>',
    '<img src=x onerror=alert(1)>',
    '<a href="javascript:alert(1)">x</a>',
    '<iframe src="/x"></iframe>',
    '<div onclick="alert(1)">',
  ])('shows %s as text', (html) => {
    const out = render(`Before ${html} after`);
    expect(out).not.toMatch(/<(?!\/?p>)/);
    expect(out).toContain('&lt;');
  });

  it('makes no link of a script URL and fetches no image', () => {
    expect(render('[x](javascript:alert(1))')).not.toContain('<a');
    expect(render('[x](vbscript:msgbox)')).not.toContain('<a');
    expect(render('![x](https://example.com/track.png)')).not.toContain('<img');
  });

  it('opens links in a new tab that gets neither this page nor its address', () => {
    expect(render('[docs](https://example.com/)')).toBe(
      '<p><a href="https://example.com/" target="_blank" rel="noopener noreferrer">docs</a></p>\n');
  });
});

const top = (token: number, probability: number) => ({ token, text: `t${token}`, probability });
const trace = (preference: number, realigned: number, kl: number): TokenTrace =>
  ({ token: realigned, base: top(1, 0.5), preference: top(preference, 0.4), realigned: top(realigned, 0.3), kl_divergence: kl });

describe('the token view marks', () => {
  it('shades by the largest KL of a piece, from 0 toward 1', () => {
    expect(traceMark([trace(1, 1, 0)]).shade).toBe(0);
    expect(traceMark([trace(1, 1, 0.5), trace(1, 1, 2)]).shade).toBeCloseTo(1 - Math.exp(-2), 12);
    expect(traceMark([trace(1, 1, 50)]).shade).toBeLessThanOrEqual(1);
  });

  it('marks a piece where the realignment picked another token than the preference prompt', () => {
    expect(traceMark([trace(7, 7, 1)]).changed).toBe(false);
    expect(traceMark([trace(7, 7, 1), trace(7, 8, 1)]).changed).toBe(true);
  });

  it('shows whitespace and probabilities legibly', () => {
    expect(visibleText(' a\tb\n')).toBe('“·a→b↵”');
    expect(visibleText('')).toBe('“”');
    expect(percent(0.12345)).toBe('12.3%');
  });
});
