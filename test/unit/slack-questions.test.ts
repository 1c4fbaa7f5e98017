import { describe, expect, it } from 'vitest';
import { ACTION_ANSWER, answerModal, optionValue, questionMessage, type QuestionView } from '../../src/slack/blocks.ts';

const q = (over: Partial<QuestionView> = {}): QuestionView => ({
  id: '11111111-1111-4111-8111-111111111111',
  run_id: 'run-7',
  msg: 'Ship <today> & tomorrow?',
  response_options: [{ name: 'today', title: 'Today' }, { name: 'later' }],
  status: 'pending',
  response: null,
  response_option_name: null,
  responded_by: null,
  responded_at: null,
  ...over,
});

const actions = (blocks: Record<string, unknown>[]) =>
  (blocks.find((b) => b.type === 'actions')?.elements as { action_id: string; value: string; text: { text: string } }[] | undefined) ?? [];

describe('questionMessage', () => {
  it('a pending question has an Answer button and one button per response option, and escapes the text', () => {
    const m = questionMessage(q());
    expect(actions(m.blocks).map((e) => [e.action_id, e.value, e.text.text])).toEqual([
      [ACTION_ANSWER, q().id, 'Answer'],
      ['holdpoint_answer_option_0', optionValue(q().id, 'today'), 'Today'],
      ['holdpoint_answer_option_1', optionValue(q().id, 'later'), 'later'],
    ]);
    expect(JSON.stringify(m.blocks)).toContain('Ship &lt;today&gt; &amp; tomorrow?');
  });

  it('an answered question has no buttons and says who answered what', () => {
    const m = questionMessage(q({ status: 'answered', response: 'tomorrow', responded_by: 'slack:U0ALICE', responded_at: '2026-01-01T00:00:00.000Z', response_option_name: 'later' }));
    expect(actions(m.blocks)).toEqual([]);
    const text = JSON.stringify(m.blocks);
    expect(text).toContain('<@U0ALICE>');
    expect(text).toContain('tomorrow');
    expect(text).toContain('(later)');
  });
});

describe('answerModal', () => {
  it('carries the question id and a required text input', () => {
    const v = answerModal(q()) as { callback_id: string; private_metadata: string; blocks: { type: string; block_id?: string; optional?: boolean }[] };
    expect(v.callback_id).toBe('holdpoint_answer');
    expect(v.private_metadata).toBe(q().id);
    const input = v.blocks.find((b) => b.type === 'input')!;
    expect(input.block_id).toBe('answer');
    expect(input.optional).toBeUndefined();
  });
});
