import { describe, expect, it } from 'vitest';
import { previewBlocks } from '../../src/slack/preview.ts';

describe('previewBlocks', () => {
  it('renders header, fields, text, buttons and context as terminal lines, unescaping Slack markup', () => {
    const text = previewBlocks([
      { type: 'header', text: { type: 'plain_text', text: 'Approval needed: payment.send' } },
      { type: 'section', fields: [{ type: 'mrkdwn', text: '*Agent*\nbot &amp; co' }, { type: 'mrkdwn', text: '*Expires*\n<!date^1700000000^{date_short_pretty}|2023-11-14T22:13:20Z>' }] },
      { type: 'section', text: { type: 'mrkdwn', text: 'Approved by <@U123> &lt;ok&gt;' } },
      { type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Approve' } }, { type: 'button', text: { type: 'plain_text', text: 'Reject' } }] },
      { type: 'context', elements: [{ type: 'mrkdwn', text: 'note' }] },
    ]);
    expect(text.split('\n')).toEqual([
      '┃ Approval needed: payment.send',
      '┃',
      '┃ *Agent*: bot & co',
      '┃ *Expires*: 2023-11-14T22:13:20Z',
      '┃',
      '┃ Approved by @U123 <ok>',
      '┃',
      '┃ [ Approve ]  [ Reject ]',
      '┃ note',
    ]);
  });
});
