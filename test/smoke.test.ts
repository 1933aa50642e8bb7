import { loadTestModel, testModels } from './support/models';

describe.each(testModels)('smoke on $name', (testModel) => {
  it('streams an answer', async () => {
    const model = await loadTestModel(testModel);
    const session = model.createSession({ preferences: ['Be concise.'] });
    let text = '';
    for await (const chunk of session.prompt('How do I boil an egg?', { maxTokens: 16 })) text += chunk.text;
    expect(text.length).toBeGreaterThan(0);
    await model.dispose();
  });
});
