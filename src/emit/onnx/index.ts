// Entry point of the ONNX post-processing emitter (`compile --emit onnx-nms`): the standalone graph and its bytes,
// and the same stages appended to a model. The semantics and their limits are in nms-graph.ts's header.
export {
  buildPostprocessGraph,
  emitOnnxNms,
  OUTPUT_NAMES,
  MAX_CANDIDATES,
  type PostprocessGraphParams,
} from './nms-graph';
export { appendPostprocess, type AppendParams } from './append';
