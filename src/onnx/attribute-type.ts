// AttributeProto.AttributeType codes of the attribute kinds the IR models (load reads them, save writes them).
export const ATTRIBUTE_TYPE = {
  float: 1,
  int: 2,
  string: 3,
  tensor: 4,
  floats: 6,
  ints: 7,
  strings: 8,
  tensors: 9,
} as const;
