"""The encoder's side: fitting a model to the frames (``fit``: one loop over a model's training
plan), the rate term and its learned steps (``rate``), optimizers (``optim``), data-parallel
fitting under torchrun (``parallel``), scene cuts (``scenecut``) and ``encoder``, which fits,
quantizes, entropy-codes and writes the file, then scores it from its bytes.
"""
