/**
 * The token view's tooltip: hovering or focusing a token shows, for each of
 * its tokens, the base prompt's, the preference prompt's and the realigned
 * distribution's top token with its probability, and KL(realigned ‖ base).
 */
import { percent, visibleText, type TokenTrace } from './trace-format.js';

/** The traces of each token element of the page. */
export const tracesOf = new WeakMap<Element, TokenTrace[]>();

function cell(tag: 'th' | 'td', text: string): HTMLElement {
  const element = document.createElement(tag);
  element.textContent = text;
  return element;
}

function traceTable(trace: TokenTrace): HTMLTableElement {
  const table = document.createElement('table');
  const head = table.createTHead().insertRow();
  head.append(cell('th', ''), cell('th', 'top token'), cell('th', 'p'));
  const body = table.createTBody();
  for (const [label, top] of [['base', trace.base], ['preference', trace.preference], ['realigned', trace.realigned]] as const) {
    const row = body.insertRow();
    row.className = label;
    row.append(cell('th', label), cell('td', visibleText(top.text)), cell('td', percent(top.probability)));
  }
  const caption = table.createCaption();
  caption.textContent = `KL(realigned ‖ base) = ${trace.kl_divergence.toFixed(3)} nats`;
  return table;
}

/** Shows the tooltip for the token under the pointer or in focus. */
export function attachTokenTooltip(tooltip: HTMLElement): void {
  const show = (event: Event): void => {
    const token = (event.target as Element | null)?.closest?.('.token');
    const traces = token ? tracesOf.get(token) : undefined;
    if (!token || !traces) return;
    tooltip.replaceChildren(...traces.map(traceTable));
    tooltip.hidden = false;
    token.setAttribute('aria-describedby', tooltip.id);
    const box = token.getBoundingClientRect();
    // Below the token, kept inside the window's width.
    const right = window.scrollX + document.documentElement.clientWidth - tooltip.offsetWidth - 8;
    tooltip.style.left = `${Math.max(8, Math.min(box.left + window.scrollX, right))}px`;
    tooltip.style.top = `${box.bottom + window.scrollY + 6}px`;
  };
  const hide = (event: Event): void => {
    const token = (event.target as Element | null)?.closest?.('.token');
    if (!token) return;
    token.removeAttribute('aria-describedby');
    tooltip.hidden = true;
  };
  document.addEventListener('mouseover', show);
  document.addEventListener('focusin', show);
  document.addEventListener('mouseout', hide);
  document.addEventListener('focusout', hide);
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') tooltip.hidden = true;
  });
}
