/**
 * The shape of lib/: no module imports one that imports it back, and the
 * library's entry point reaches neither the test support, the evaluation
 * harness nor the CLI.
 */
import path from 'node:path';
import madge from 'madge';

const root = path.resolve(__dirname, '..', '..');

it('lib/ has no circular import', async () => {
  const graph = await madge(path.join(root, 'lib'), { fileExtensions: ['ts'] });
  expect(graph.circular()).toEqual([]);
});

it("the library's entry point imports only lib/", async () => {
  const graph = await madge(path.join(root, 'lib', 'index.ts'), { fileExtensions: ['ts'] });
  const outside = Object.keys(graph.obj()).filter((file) => !path.resolve(root, 'lib', file).startsWith(path.join(root, 'lib')));
  expect(outside).toEqual([]);
});
