// Block Kit as terminal text, for `holdpoint demo` when no Slack is configured:
// what approvers would see, without Slack. Pure.
import type { Block } from './blocks.ts';

type Text = { text?: string };

function unescape(s: string): string {
  return s
    .replace(/<!date\^\d+\^[^|]*\|([^>]*)>/g, '$1')
    .replace(/<@([A-Z0-9]+)>/g, '@$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

export function previewBlocks(blocks: readonly Block[]): string {
  const out: string[] = [];
  for (const b of blocks) {
    const text = (b.text as Text | undefined)?.text;
    switch (b.type) {
      case 'header':
        out.push(`┃ ${unescape(text ?? '')}`, '┃');
        break;
      case 'section':
        if (text) out.push(...unescape(text).split('\n').map((l) => `┃ ${l}`));
        for (const f of (b.fields as Text[] | undefined) ?? []) {
          out.push(`┃ ${unescape(f.text ?? '').replace(/\n/g, ': ')}`);
        }
        out.push('┃');
        break;
      case 'context':
        for (const e of (b.elements as Text[] | undefined) ?? []) out.push(`┃ ${unescape(e.text ?? '')}`);
        break;
      case 'actions':
        out.push(
          `┃ ${((b.elements as (Text & { text?: Text })[] | undefined) ?? []).map((e) => `[ ${e.text?.text ?? '?'} ]`).join('  ')}`,
        );
        break;
    }
  }
  while (out.at(-1) === '┃') out.pop();
  return out.join('\n');
}
