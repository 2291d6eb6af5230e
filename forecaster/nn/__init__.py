"""Everything that imports Keras, TensorFlow or LiteRT, and nothing else does.

`build` picks a network (`recurrent` row-by-row or conv front, `segment` SegRNN-style,
`ensemble` of seeds, `bidirectional` for backfill only); `layers` registers every custom
layer; `training` fits; `inference` is the compiled predict path; `saving` reads and writes
``model.keras``; `tflite` converts and `litert` runs the edge export; `tf_env` quiets start-up.
"""
